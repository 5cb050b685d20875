import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { send } from './agents';
import { freePort } from '../../test/support/free-port';

export const ROOT = join(__dirname, '..', '..');
const VESTAUTH_CLI = join(ROOT, 'node_modules', 'vestauth', 'src', 'cli', 'vestauth.js');

export interface RunningServer {
  name: string;
  port: number;
  /** host:port that requests address and signatures cover. */
  authority: string;
  child: ChildProcess;
}

/** Every child this process started, so that an interrupted run still stops them all. */
const children = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGTERM (both servers shut down gracefully on it), then SIGKILL after 5 s. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((child) => stop(child)));
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}


/**
 * Settings our service runs with besides port, URL and database. The
 * per-IP rate limits are off because the whole load comes from one address:
 * left on, they would measure the limiter, not the service.
 */
export const OURS_BENCH_ENV = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
  RATE_LIMIT_REGISTER_PER_MINUTE: '0',
  RATE_LIMIT_FAILED_VERIFY_PER_MINUTE: '0',
} as const;

export interface OursSettings {
  port: number;
  /** undefined: embedded PGlite under dataDir. */
  databaseUrl?: string;
  workDir: string;
  logFile: string;
}

/**
 * Our built service (dist/main.js) as an operator runs it. The working
 * directory is a scratch one so that no `.env` or `./data` of the checkout
 * leaks in; the embedded database lives there too.
 */
export async function startOurs(s: OursSettings): Promise<RunningServer> {
  const env: NodeJS.ProcessEnv = {
    ...withoutServerVariables(process.env),
    ...OURS_BENCH_ENV,
    PORT: String(s.port),
    PUBLIC_URL: `http://localhost:${s.port}`,
    DATA_DIR: join(s.workDir, 'data'),
  };
  if (s.databaseUrl) env.DATABASE_URL = s.databaseUrl;
  const log = openSync(s.logFile, 'a');
  // BENCH_OURS_NODE_FLAGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", to profile our side only.
  // The same heap bound as `npm start` and the Docker image.
  const flags = ['--max-old-space-size=256', ...(process.env.BENCH_OURS_NODE_FLAGS ?? '').split(' ').filter(Boolean)];
  const child = track(spawn(process.execPath, [...flags, join(ROOT, 'dist', 'main.js')], { cwd: s.workDir, env, stdio: ['ignore', log, log] }));
  closeSync(log);
  const server = { name: 'ours', port: s.port, authority: `localhost:${s.port}`, child };
  await waitUntilServing(server, 120_000, s.logFile);
  return server;
}

export interface ReferenceSettings {
  port: number;
  databaseUrl: string;
  workDir: string;
  logFile: string;
}

/**
 * vestauth 0.21.1's own server through its CLI. HOSTNAME is removed from
 * its environment because vestauth reads it before its --hostname flag and
 * .env (shells set it to the machine name); its working directory has no
 * .env. Its per-request info log goes to /dev/null, its errors to the log.
 */
export async function startReference(s: ReferenceSettings): Promise<RunningServer> {
  await runReferenceCli(['server', 'db:migrate', '--database-url', s.databaseUrl], s);
  const args = ['server', 'start', '--port', String(s.port), '--hostname', `http://localhost:${s.port}`, '--database-url', s.databaseUrl];
  const log = openSync(s.logFile, 'a');
  const child = track(spawn(process.execPath, [VESTAUTH_CLI, ...args], { cwd: s.workDir, env: referenceEnv(), stdio: ['ignore', 'ignore', log] }));
  closeSync(log);
  const server = { name: 'reference', port: s.port, authority: `localhost:${s.port}`, child };
  await waitUntilServing(server, 60_000, s.logFile);
  return server;
}

function referenceEnv(): NodeJS.ProcessEnv {
  return { ...withoutServerVariables(process.env), NODE_ENV: 'production' };
}

async function runReferenceCli(args: string[], s: ReferenceSettings): Promise<void> {
  const log = openSync(s.logFile, 'a');
  const child = track(spawn(process.execPath, [VESTAUTH_CLI, ...args], { cwd: s.workDir, env: referenceEnv(), stdio: ['ignore', log, log] }));
  closeSync(log);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`vestauth ${args.slice(0, 2).join(' ')} exited with ${code}; see ${s.logFile}`);
}

function withoutServerVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of ['HOSTNAME', 'PORT', 'DATABASE_URL', 'PUBLIC_URL', 'DATA_DIR']) delete copy[name];
  return copy;
}

/** Both servers answer GET / on the bare host with {"service":"vestauth",...}. */
async function waitUntilServing(server: RunningServer, timeoutMs: number, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`${server.name} server exited (${server.child.exitCode ?? server.child.signalCode}) before serving; see ${logFile}`);
    }
    try {
      const res = await send(undefined, server.port, 'GET', '/', { host: server.authority }, undefined, 2000);
      if (res.status === 200 && res.body.includes('"service":"vestauth"')) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${server.name} server did not answer GET / within ${timeoutMs / 1000} s; see ${logFile}`);
}

/** The same server with another database name (for scratch databases next to DATABASE_URL's). */
export function withDatabase(url: string, database: string): string {
  const copy = new URL(url);
  copy.pathname = `/${database}`;
  return copy.toString();
}

export async function createDatabase(serverUrl: string, database: string): Promise<void> {
  await adminQuery(serverUrl, `CREATE DATABASE "${database}"`);
}

export async function dropDatabase(serverUrl: string, database: string): Promise<void> {
  // FORCE (PostgreSQL 13+): a pool a killed server left behind must not block the drop.
  await adminQuery(serverUrl, `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
}

async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: withDatabase(serverUrl, 'postgres'), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Peak resident memory of a process, sampled from /proc every 500 ms (Linux only). */
export class RssSampler {
  private peakKb = 0;
  private windowPeakKb = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 500);
    this.timer.unref();
    this.sample();
  }

  /** Starts a new window; windowPeakMb() reports the peak since. */
  resetWindow(): void {
    this.windowPeakKb = 0;
    this.sample();
  }

  windowPeakMb(): number | undefined {
    return this.windowPeakKb > 0 ? this.windowPeakKb / 1024 : undefined;
  }

  peakMb(): number | undefined {
    return this.peakKb > 0 ? this.peakKb / 1024 : undefined;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    try {
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      if (!match) return;
      const kb = Number(match[1]);
      this.peakKb = Math.max(this.peakKb, kb);
      this.windowPeakKb = Math.max(this.windowPeakKb, kb);
    } catch {
      // the process is gone or this is not Linux: report what was seen
    }
  }
}

export { freePort };
