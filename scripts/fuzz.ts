/**
 * The hostile-input properties of issue 7 (test/support/hostile-properties.ts)
 * with many more cases than the test suites run: the unit properties on the
 * pure parsers, then the HTTP properties against the real app.
 *
 *   npm run fuzz -- [--seed N|random] [--factor N] [--only TEXT] [--unit|--http]
 *
 * --seed     fast-check seed (default FUZZ_SEED from the environment, else 424242);
 *            `random` picks one and prints it, so a failure can be replayed.
 * --factor   runs per property = the suite's runs x factor (default 20).
 * --only     run only the properties whose name contains TEXT.
 * --unit / --http  one half only.
 *
 * The HTTP half uses DATABASE_URL when set, otherwise an embedded PGlite in
 * a temporary directory, exactly as the e2e suite does. Exit status 1 on the
 * first failing property, with fast-check's counterexample and seed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedPostgres } from '../src/database/embedded-postgres';
import { FUZZ_SEED } from '../test/support/hostile-arbitraries';
import { assertStillServing, captureAppErrors, HTTP_PROPERTIES, startHostileApp, UNIT_PROPERTIES } from '../test/support/hostile-properties';
import type { OutcomeTally } from '../test/support/hostile-properties';
import { startTestApp } from '../test/support/test-app';

interface Options {
  seed: number;
  factor: number;
  only?: string;
  unit: boolean;
  http: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const value = (flag: string): string | undefined => {
    const index = argv.indexOf(flag);
    return index === -1 ? undefined : argv[index + 1];
  };
  const seedText = value('--seed') ?? process.env.FUZZ_SEED;
  const seed = seedText === 'random' ? Math.floor(Math.random() * 2 ** 31) : seedText === undefined ? FUZZ_SEED : Number(seedText);
  const factor = Number(value('--factor') ?? 20);
  if (!Number.isSafeInteger(seed) || !Number.isFinite(factor) || factor <= 0) {
    throw new Error('usage: fuzz [--seed N|random] [--factor N] [--only TEXT] [--unit|--http]');
  }
  const unitOnly = argv.includes('--unit');
  const httpOnly = argv.includes('--http');
  return { seed, factor, only: value('--only'), unit: !httpOnly, http: !unitOnly };
}

function selected<T extends { name: string }>(properties: readonly T[], only: string | undefined): T[] {
  return properties.filter((p) => only === undefined || p.name.includes(only));
}

function report(line: string): void {
  process.stdout.write(`${line}\n`);
}

function runUnit(options: Options): void {
  for (const property of selected(UNIT_PROPERTIES, options.only)) {
    const numRuns = Math.ceil(property.suiteRuns * options.factor);
    const started = Date.now();
    property.check({ seed: options.seed, numRuns });
    report(`ok   ${numRuns} runs in ${Date.now() - started} ms: ${property.name}`);
  }
}

/** An embedded database for the run when no DATABASE_URL is given, as test/global-setup.ts does. */
async function withDatabase<T>(run: () => Promise<T>): Promise<T> {
  if (process.env.DATABASE_URL) return run();
  const dir = mkdtempSync(join(tmpdir(), 'vestauth-fuzz-pglite-'));
  const embedded = new EmbeddedPostgres(dir, 40);
  process.env.DATABASE_URL = await embedded.start();
  process.env.TEST_DATABASE_KIND = 'pglite';
  try {
    return await run();
  } finally {
    await embedded.stop();
    delete process.env.DATABASE_URL;
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runHttp(options: Options): Promise<void> {
  const properties = selected(HTTP_PROPERTIES, options.only);
  if (properties.length === 0) return;
  await withDatabase(async () => {
    const hostile = await startHostileApp(startTestApp);
    const appErrors = captureAppErrors();
    try {
      for (const property of properties) {
        const numRuns = Math.ceil(property.suiteRuns * options.factor);
        const tally: OutcomeTally = new Map();
        const started = Date.now();
        await property.check(hostile.target, { seed: options.seed, numRuns }, tally);
        report(`ok   ${numRuns} requests in ${Date.now() - started} ms: ${property.name}`);
        for (const [outcome, count] of [...tally].sort((a, b) => b[1] - a[1])) report(`       ${String(count).padStart(6)}  ${outcome}`);
      }
      await assertStillServing(hostile.target);
      report('ok   GET / and /health/ready still answer 200');
      if (appErrors.lines.length > 0) throw new Error(`the app logged ${appErrors.lines.length} error(s):\n${appErrors.lines.join('\n')}`);
    } finally {
      appErrors.stop();
      await hostile.close();
    }
  });
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  report(`fuzz: seed ${options.seed}, ${options.factor}x the suite's runs${options.only ? `, only "${options.only}"` : ''}`);
  if (options.unit) runUnit(options);
  if (options.http) await runHttp(options);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
