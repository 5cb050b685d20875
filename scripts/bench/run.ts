/**
 * `npm run bench`: our service and vestauth's reference server side by side
 * (issue 6). A benchmark, not a test: it asserts nothing and prints one
 * table (stdout); progress goes to stderr.
 */
import { execFileSync, fork, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { generateKeys, seedAgents } from './agents';
import { BenchOptions, parseBenchOptions, USAGE } from './bench-options';
import type { LoadJob, LoadMessage, LoadResult, Scenario, StoredAgent } from './protocol';
import { renderReport, RunRow } from './report';
import {
  createDatabase,
  dropDatabase,
  freePort,
  OURS_BENCH_ENV,
  ROOT,
  RssSampler,
  RunningServer,
  startOurs,
  startReference,
  stopAll,
  track,
  withDatabase,
} from './servers';

const startedAt = Date.now();
const note = (message: string): void => void process.stderr.write(`[bench +${((Date.now() - startedAt) / 1000).toFixed(1)}s] ${message}\n`);

interface Scratch {
  workDir?: string;
  referenceDb?: { serverUrl: string; name: string };
  samplers: RssSampler[];
}

const scratch: Scratch = { samplers: [] };
let cleaning: Promise<void> | undefined;

/** Stops every child, drops the reference's scratch database, removes the temporary directory. Idempotent. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    scratch.samplers.forEach((s) => s.stop());
    await stopAll();
    if (scratch.referenceDb) {
      await dropDatabase(scratch.referenceDb.serverUrl, scratch.referenceDb.name).catch((e: Error) =>
        note(`could not drop ${scratch.referenceDb?.name}: ${e.message}`),
      );
    }
    if (scratch.workDir) rmSync(scratch.workDir, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    note(`${signal}: stopping the servers and removing scratch data`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  const parsed = parseBenchOptions(process.argv.slice(2), process.env);
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const options = parsed;
  const loadBefore = loadavg();
  ensureBuilt(options.build);

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logDir = join(ROOT, '.bench', `run-${stamp}`);
  mkdirSync(logDir, { recursive: true });
  const workDir = mkdtempSync(join(tmpdir(), 'vestauth-bench-'));
  scratch.workDir = workDir;

  const referenceDbName = `vestauth_bench_ref_${process.pid}`;
  await createDatabase(options.referencePostgresUrl, referenceDbName).catch((e: Error) => {
    throw new Error(`the reference server needs PostgreSQL; could not create ${referenceDbName} on ${describeServer(options.referencePostgresUrl)}: ${e.message}`);
  });
  scratch.referenceDb = { serverUrl: options.referencePostgresUrl, name: referenceDbName };

  note(`our service: ${describeOursDatabase(options)}`);
  const ours = await startOurs({ port: await freePort(), databaseUrl: options.databaseUrl, workDir, logFile: join(logDir, 'ours.log') });
  note(`our service listening on ${ours.port}`);
  const reference = await startReference({
    port: await freePort(),
    databaseUrl: withDatabase(options.referencePostgresUrl, referenceDbName),
    workDir,
    logFile: join(logDir, 'reference.log'),
  });
  note(`reference server listening on ${reference.port}`);
  const oursRss = new RssSampler(requirePid(ours));
  const referenceRss = new RssSampler(requirePid(reference));
  scratch.samplers.push(oursRss, referenceRss);

  const agentFiles = await seedBoth(options, ours, reference, workDir);

  const rows: RunRow[] = [];
  for (const scenario of options.scenarios) {
    for (const [server, rss] of [
      [ours, oursRss],
      [reference, referenceRss],
    ] as const) {
      await settle();
      rss.resetWindow();
      const result = await runLoad(jobFor(options, scenario, server, agentFiles.get(server.name) ?? ''));
      rows.push({ result, peakRssMb: rss.windowPeakMb() });
      note(`${scenario} / ${server.name}: ${result.requestsPerSecond.toFixed(0)} req/s, p99 ${result.p99Ms.toFixed(1)} ms, ${result.non2xx + result.socketErrors} errors`);
    }
  }

  const report = renderReport(
    {
      date: new Date(),
      command: ['npm run bench --', ...process.argv.slice(2)].join(' '),
      cores: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      nodeVersion: process.version,
      loadBefore,
      loadAfter: loadavg(),
      oursVersion: `vestauth-authority ${packageVersion(ROOT)}`,
      gitRevision: gitRevision(),
      oursDatabase: `${describeOursDatabase(options)}; ${Object.entries(OURS_BENCH_ENV).map(([k, v]) => `${k}=${v}`).join(' ')}`,
      referenceVersion: packageVersion(join(ROOT, 'node_modules', 'vestauth')),
      referenceDatabase: `PostgreSQL, scratch database ${referenceDbName} on ${describeServer(options.referencePostgresUrl)} (dropped at the end)`,
      agents: options.agents,
      connections: options.connections,
      durationSeconds: options.durationSeconds,
      warmupSeconds: options.warmupSeconds,
      oursPeakRssMb: oursRss.peakMb(),
    },
    rows,
  );
  process.stdout.write(`${report}\n`);
  writeFileSync(join(logDir, 'results.json'), JSON.stringify({ options, rows }, null, 2));
  writeFileSync(join(logDir, 'report.md'), `${report}\n`);
  note(`server logs and results in ${logDir}`);
}

/** Registers the same keys in both servers (each gives its own uids) and writes each server's agents for the load generator. */
async function seedBoth(options: BenchOptions, ours: RunningServer, reference: RunningServer, workDir: string): Promise<Map<string, string>> {
  note(`generating ${options.agents} Ed25519 keys`);
  const keys = generateKeys(options.agents);
  const files = new Map<string, string>();
  for (const server of [ours, reference]) {
    const started = Date.now();
    const agents: StoredAgent[] = await seedAgents(server.port, server.authority, keys, options.seedConcurrency, (done) =>
      note(`${server.name}: ${done}/${keys.length} agents registered`),
    );
    note(`${server.name}: ${agents.length} agents registered in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const file = join(workDir, `agents-${server.name}.json`);
    writeFileSync(file, JSON.stringify(agents));
    files.set(server.name, file);
  }
  return files;
}

function jobFor(options: BenchOptions, scenario: Scenario, server: RunningServer, agentsFile: string): LoadJob {
  return {
    scenario,
    server: server.name === 'ours' ? 'ours' : 'reference',
    port: server.port,
    authority: server.authority,
    agentsFile,
    connections: options.connections,
    durationSeconds: options.durationSeconds,
    warmupSeconds: options.warmupSeconds,
    keyPool: scenario === 'register' ? options.keyPool : 0,
  };
}

/** Runs one job in a forked load generator so that it never competes for this event loop. */
function runLoad(job: LoadJob): Promise<LoadResult> {
  // Under ts-node the child needs the same TypeScript hook; compiled, it does not.
  const execArgv = extname(__filename) === '.ts' ? ['-r', 'ts-node/register/transpile-only'] : [];
  const child = track(fork(join(__dirname, `load${extname(__filename)}`), [], { cwd: ROOT, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  return new Promise((resolve, reject) => {
    let settled = false;
    let phase = 'starting';
    let watchdog: NodeJS.Timeout | undefined;
    // A generator that stops reporting is killed with the phase it was in, instead of hanging the run.
    const expectNextWithin = (seconds: number): void => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        finish(() => reject(new Error(`load generator for ${job.scenario} / ${job.server} silent for ${seconds} s while ${phase}; killed`)));
        child.kill('SIGKILL');
      }, seconds * 1000);
    };
    const finish = (settle: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(watchdog);
      settle();
    };
    child.on('message', (message: LoadMessage) => {
      if (message.type === 'phase') {
        phase = message.phase;
        const seconds = message.phase === 'timed' ? job.durationSeconds : job.warmupSeconds;
        note(`${job.scenario} / ${job.server}: ${message.phase} (${seconds} s)`);
        // After the warm-up the register pool is generated: up to --key-pool keys at ~50 µs, slower on a busy machine.
        expectNextWithin(seconds + 120 + job.keyPool / 1000);
      } else if (message.type === 'result') finish(() => resolve(message.result));
      else finish(() => reject(new Error(`load generator failed: ${message.message}`)));
    });
    child.once('exit', (code, signal) => finish(() => reject(new Error(`load generator exited (${code ?? signal}) without a result`))));
    expectNextWithin(180);
    child.send(job);
  });
}

/** Lets the previous run's connections close and background work drain before the next server is loaded. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1000));
}

/** Builds dist/ when a source file is newer than dist/main.js (the service runs from dist, as in production). */
function ensureBuilt(build: boolean): void {
  const main = join(ROOT, 'dist', 'main.js');
  const builtAt = safeMtime(main);
  const newest = newestSource(join(ROOT, 'src'));
  if (builtAt !== undefined && builtAt >= newest) return;
  if (!build) {
    note(builtAt === undefined ? 'dist/main.js is missing; run npm run build' : 'warning: dist/ is older than src/ (--no-build given)');
    if (builtAt === undefined) throw new Error('dist/main.js is missing');
    return;
  }
  note('dist/ is older than src/: npm run build');
  const result = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) throw new Error(`npm run build failed (${result.status ?? result.signal})`);
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function safeMtime(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function requirePid(server: RunningServer): number {
  if (server.child.pid === undefined) throw new Error(`${server.name} server has no pid`);
  return server.child.pid;
}

function describeOursDatabase(options: BenchOptions): string {
  return options.databaseUrl
    ? `PostgreSQL from DATABASE_URL (${describeUrl(options.databaseUrl)}, used as is)`
    : 'embedded PGlite (no DATABASE_URL; fresh temporary data directory, in the service process: its RSS includes the database)';
}

/** host:port/database, without credentials. */
function describeUrl(url: string): string {
  return `${describeServer(url)}${new URL(url).pathname}`;
}

function describeServer(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '5432'}`;
}

function packageVersion(dir: string): string {
  const pkg: unknown = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

function gitRevision(): string {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', 'src') !== '';
    return dirty ? `git ${head} with uncommitted changes in src/` : `git ${head}`;
  } catch {
    return 'git revision unknown';
  }
}

main()
  .catch((error: unknown) => {
    note(`failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
