import { parseArgs } from 'node:util';
import { Scenario, SCENARIOS } from './protocol';

export interface BenchOptions {
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  agents: number;
  scenarios: Scenario[];
  /** Pre-generated register keys per run; beyond it keys are generated inside the timed window. */
  keyPool: number;
  /** Parallel POST /register calls while seeding agents. */
  seedConcurrency: number;
  build: boolean;
  /** Server URL (any database on it) where the reference's scratch database is created. */
  referencePostgresUrl: string;
  /** Our service's database; undefined: embedded PGlite. */
  databaseUrl?: string;
}

export const USAGE = `Usage: npm run bench -- [options]

Runs our service and vestauth's reference server side by side, one loaded at a time,
with the same forked load generator (autocannon; a fresh signature and nonce on every request).

  --duration <s>        timed window per scenario and server (default 15)
  --warmup <s>          unmeasured warm-up before each timed window (default 3)
  --connections <n>     keep-alive connections (default 32)
  --agents <n>          agents registered in each server before the runs (default 1000)
  --scenarios <list>    comma-separated: ${SCENARIOS.join(',')} (default: all)
  --key-pool <n>        most register keys generated before each timed window (three times what
                        the warm-up's rate needs, up to this; default 100000)
  --seed-concurrency <n> parallel registrations while seeding (default 64)
  --no-build            do not run "npm run build" when dist/ is older than src/
  --reference-db <url>  PostgreSQL server for the reference's scratch database when
                        DATABASE_URL is not set (default postgres://postgres@127.0.0.1:5432/postgres)

Environment: DATABASE_URL puts our service on that PostgreSQL database (it is used as is,
not dropped); without it our service runs on its embedded PGlite in a temporary directory.`;

export function parseBenchOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowNegative: true,
    options: {
      duration: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '3' },
      connections: { type: 'string', default: '32' },
      agents: { type: 'string', default: '1000' },
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
      'key-pool': { type: 'string', default: '100000' },
      'seed-concurrency': { type: 'string', default: '64' },
      build: { type: 'boolean', default: true },
      'reference-db': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  return {
    durationSeconds: positive('duration', values.duration),
    warmupSeconds: positive('warmup', values.warmup, true),
    connections: positive('connections', values.connections),
    agents: positive('agents', values.agents),
    scenarios: scenarioList(values.scenarios),
    keyPool: positive('key-pool', values['key-pool'], true),
    seedConcurrency: positive('seed-concurrency', values['seed-concurrency']),
    build: values.build,
    referencePostgresUrl: env.DATABASE_URL ?? values['reference-db'],
    databaseUrl: env.DATABASE_URL || undefined,
  };
}

function positive(name: string, raw: string, allowZero = false): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new Error(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got "${raw}"`);
  return n;
}

function scenarioList(raw: string): Scenario[] {
  const names = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const scenarios = names.filter(isScenario);
  if (scenarios.length !== names.length || names.length === 0) throw new Error(`--scenarios takes ${SCENARIOS.join(', ')}; got "${raw}"`);
  return [...new Set(scenarios)];
}

function isScenario(name: string): name is Scenario {
  return (SCENARIOS as readonly string[]).includes(name);
}
