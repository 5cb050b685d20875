import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../support/free-port';

const ROOT = join(__dirname, '..', '..', '..');
/**
 * The build under test. RELIABILITY_SERVICE_MAIN points at another build
 * (a copy made while someone else rebuilds dist/, for instance).
 */
export const SERVICE_MAIN = process.env.RELIABILITY_SERVICE_MAIN ?? join(ROOT, 'dist', 'main.js');
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceProcess {
  name: string;
  port: number;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Still running (never crashed, never exited). */
  alive(): boolean;
  exited: Promise<Exit>;
  /** SIGTERM and wait for the exit (SIGKILL if it does not come). */
  stop(): Promise<Exit>;
}

const running = new Set<ServiceProcess>();

/** `npm run test:reliability` builds first; this covers running the suite on its own. */
export function ensureServiceBuilt(): void {
  if (existsSync(SERVICE_MAIN)) return;
  execFileSync('npx', ['nest', 'build'], { cwd: ROOT, stdio: 'inherit', timeout: 180_000 });
}


/**
 * Starts `node dist/main.js` on a free port with only the given
 * environment (nothing of the runner's leaks in, and the scratch working
 * directory has no `.env`), and resolves once it says it listens.
 * Rate limits are off unless set: these tests are about faults and
 * instances, and they register more agents a minute than the default budget.
 */
export async function startService(name: string, vars: Record<string, string>): Promise<ServiceProcess> {
  const port = await freePort();
  const cwd = mkdtempSync(join(tmpdir(), `vestauth-reliability-${name}-`));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NO_COLOR: '1',
    NODE_ENV: 'production',
    LOG_LEVEL: 'log',
    RATE_LIMIT_REGISTER_PER_MINUTE: '0',
    RATE_LIMIT_FAILED_VERIFY_PER_MINUTE: '0',
    PORT: String(port),
    ...vars,
  };
  const child = spawn(process.execPath, [SERVICE_MAIN], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      running.delete(service);
      rmSync(cwd, { recursive: true, force: true });
      resolve(exit);
    }),
  );
  const service: ServiceProcess = {
    name,
    port,
    child,
    output: () => output,
    alive: () => exit === undefined,
    exited,
    stop: () => stopService(service),
  };
  running.add(service);

  await waitFor(() => /listening on port/.test(output) || exit !== undefined, START_TIMEOUT_MS);
  if (!/listening on port/.test(output) || exit !== undefined) {
    child.kill('SIGKILL');
    throw new Error(`service ${name} did not start:\n${output}`);
  }
  return service;
}

async function stopService(service: ServiceProcess): Promise<Exit> {
  if (!service.alive()) return service.exited;
  service.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS)));
  const result = await Promise.race([service.exited, timeout]);
  clearTimeout(timer);
  if (result !== 'timeout') return result;
  service.child.kill('SIGKILL');
  throw new Error(`service ${service.name} did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM`);
}

/** For afterAll: whatever is still running, failed test or not. */
export async function killAllServices(): Promise<void> {
  const left = [...running];
  for (const service of left) service.child.kill('SIGKILL');
  await Promise.all(left.map((service) => service.exited));
}

export async function waitFor(condition: () => boolean | Promise<boolean>, ms: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { freePort };
