import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { AgentKeyPair, agentKeyPair, registerAgent, signatureHeaders } from './factories/agent.factory';
import { freePort } from './support/test-app';

/**
 * The built service as operators run it (`node dist/main.js`, as the
 * Dockerfile does), in its own process: configuration failures, the
 * embedded default with its migrations and a restart, and SIGTERM.
 */

const ROOT = join(__dirname, '..');
const MAIN = join(ROOT, 'dist', 'main.js');
const DIRECTORY = '/.well-known/http-message-signatures-directory';
// Generous: a fresh PGlite directory runs initdb (4-9 s, more on a busy CI box).
const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 20_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Service {
  child: ChildProcess;
  port: number;
  url: string;
  authority: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
}

const running = new Set<ChildProcess>();

/**
 * Only what the service needs, so that nothing from the test runner (its
 * DATABASE_URL above all) leaks in. The working directory is a scratch one
 * so that a developer's `.env` is not loaded either.
 */
function childEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, NO_COLOR: '1', NODE_ENV: 'production', LOG_LEVEL: 'log', ...vars };
}

function spawnService(cwd: string, vars: Record<string, string>): Omit<Service, 'port' | 'url' | 'authority'> {
  const child = spawn(process.execPath, [MAIN], { cwd, env: childEnv(vars), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Starts the service on a free port and resolves once it says it listens. */
async function startService(cwd: string, vars: Record<string, string>): Promise<Service> {
  const port = await freePort();
  const service = spawnService(cwd, { PORT: String(port), ...vars });
  const listening = await Promise.race([
    waitFor(() => /listening on port/.test(service.stdout()), START_TIMEOUT_MS),
    service.exited.then(() => false),
  ]);
  if (!listening) {
    service.child.kill('SIGKILL');
    throw new Error(`service did not start:\n${service.stdout()}\n${service.stderr()}`);
  }
  return { ...service, port, url: `http://127.0.0.1:${port}`, authority: `localhost:${port}` };
}

/** SIGTERM, then the exit (SIGKILL and a failure if it does not come). */
async function stop(service: Service): Promise<Exit> {
  service.child.kill('SIGTERM');
  return exitWithin(service, STOP_TIMEOUT_MS);
}

async function exitWithin(service: Pick<Service, 'child' | 'exited'>, ms: number): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  const result = await Promise.race([service.exited, timeout]);
  clearTimeout(timer);
  if (result === 'timeout') {
    service.child.kill('SIGKILL');
    throw new Error(`process did not exit within ${ms} ms`);
  }
  return result;
}

async function waitFor(condition: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/**
 * The TCP ports a process listens on, IPv4 and IPv6 (Linux: its socket
 * inodes in /proc/<pid>/fd matched against /proc/net/tcp{,6}).
 */
function tcpListeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (inode) inodes.add(inode);
    } catch {
      // closed in the meantime
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is fields[1] (hex ip:port), st is fields[3] (0A = LISTEN), inode is fields[9].
      if (fields.length > 9 && fields[3] === '0A' && inodes.has(fields[9])) ports.push(parseInt(fields[1].split(':')[1], 16));
    }
  }
  return ports.sort((a, b) => a - b);
}

function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

interface HttpResult {
  status: number;
  connection?: string;
  body: { uid?: string; kid?: string; is_new?: boolean };
}

/**
 * A signed POST /register sent in two steps. With `Expect: 100-continue`
 * the server confirms it holds the request (accepted) before any of the
 * body is sent (finish), so the test knows the request is in flight.
 */
function heldRegistration(service: Service, key: AgentKeyPair, agent: Agent | false): { accepted: Promise<void>; finish(): void; response: Promise<HttpResult> } {
  const body = JSON.stringify({ public_jwk: key.publicJwk });
  const req = httpRequest({
    host: '127.0.0.1',
    port: service.port,
    method: 'POST',
    path: '/register',
    agent,
    headers: {
      Host: service.authority,
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      Expect: '100-continue',
      ...signatureHeaders(key, { authority: service.authority, tag: 'null' }),
    },
  });
  const accepted = new Promise<void>((resolve) => req.once('continue', resolve));
  const response = new Promise<HttpResult>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: JSON.parse(text) as HttpResult['body'] }));
    });
  });
  req.flushHeaders();
  return { accepted, finish: () => req.end(body), response };
}

beforeAll(() => {
  // `npm test` builds first; this covers running the e2e suite on its own.
  if (!existsSync(MAIN)) execFileSync('npx', ['nest', 'build'], { cwd: ROOT, stdio: 'inherit', timeout: 180_000 });
}, 200_000);

afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
});

describe('Process: configuration errors', () => {
  let cwd: string;

  beforeAll(() => {
    cwd = mkdtempSync(join(tmpdir(), 'vestauth-process-config-'));
  });

  afterAll(() => {
    rmSync(cwd, { recursive: true, force: true });
  });

  it.each([
    ['PORT', 'abc'],
    ['PUBLIC_URL', 'notaurl'],
    ['ADMIN_AGENT_UIDS', 'bob'],
    ['DATABASE_URL', 'mysql://admin:s3cret-pw@db.internal/app'],
  ])('%s=%s stops the process with one line naming the variable', async (variable, value) => {
    const service = spawnService(cwd, { [variable]: value, DATA_DIR: join(cwd, 'data') });
    const exit = await exitWithin(service, 30_000);
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    const lines = service.stderr().split('\n').filter((line) => line.length > 0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^Invalid configuration: ${variable}: `));
    expect(lines[0]).not.toContain('s3cret-pw');
    expect(lines[0]).not.toMatch(/\bat .*\.js:\d+/);
    // It stopped before touching anything: no database was opened.
    expect(existsSync(join(cwd, 'data'))).toBe(false);
  });
});

describe('Process: start-up logs', () => {
  it('says at once, as JSON lines, that it is waiting for an unreachable database (not only when it gives up)', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'vestauth-process-startlog-'));
    const service = spawnService(cwd, { PORT: String(await freePort()), DATABASE_URL: 'postgres://postgres@127.0.0.1:1/unreachable' });
    try {
      const said = await waitFor(() => service.stdout().includes('Unable to connect to the database. Retrying (1)'), 8_000);
      expect(said).toBe(true);
      expect(service.child.exitCode).toBeNull();
      const lines = service.stdout().split('\n').filter((line) => line.length > 0);
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
      expect(lines.map((line) => JSON.parse(line) as { context?: string; msg?: string })).toContainEqual(
        expect.objectContaining({ context: 'DatabaseEndpoint', msg: 'Using PostgreSQL at postgres://postgres@127.0.0.1:1/unreachable' }),
      );
    } finally {
      service.child.kill('SIGKILL');
      await service.exited;
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('Process: embedded default (no DATABASE_URL)', () => {
  let cwd: string;
  let dataDir: string;
  let first: Awaited<ReturnType<typeof registerAgent>>;

  beforeAll(() => {
    cwd = mkdtempSync(join(tmpdir(), 'vestauth-process-embedded-'));
    dataDir = join(cwd, 'data');
  });

  afterAll(() => {
    rmSync(cwd, { recursive: true, force: true });
  });

  it(
    'starts on a fresh data directory, migrates, serves, and stops cleanly on SIGTERM',
    async () => {
      const service = await startService(cwd, { DATA_DIR: dataDir });
      try {
        expect(service.stdout()).toContain(`Opening embedded PostgreSQL (PGlite) in ${dataDir}`);
        expect(service.stdout()).toMatch(/Applying \d+ migration\(s\)/);
        expect(service.stdout()).toMatch(/Applied \d+ migration\(s\) in \d+ ms/);

        const status = await request(service.url).get('/').set('Host', service.authority).expect(200);
        expect(status.body).toEqual({ service: 'vestauth', status: 'ok', version: require('../package.json').version });
        const ready = await request(service.url).get('/health/ready').set('Host', service.authority).expect(200);
        expect(ready.body.info.database.status).toBe('up');

        first = await registerAgent(service.url, service.authority);
        const directory = await request(service.url).get(DIRECTORY).set('Host', `${first.uid}.${service.authority}`).expect(200);
        expect(directory.body).toEqual({ keys: [first.publicJwk] });
      } finally {
        const exit = await stop(service);
        expect(exit).toEqual({ code: 0, signal: null });
      }
      expect(service.stdout()).toContain('Embedded PostgreSQL closed');
      expect(service.stderr()).toBe('');
    },
    START_TIMEOUT_MS + 30_000,
  );

  it(
    'refuses a second process on the same DATA_DIR with one line naming it and the owner, exit 78, and the first one serves on',
    async () => {
      const service = await startService(cwd, { DATA_DIR: dataDir });
      try {
        const second = spawnService(cwd, { PORT: String(await freePort()), DATA_DIR: dataDir });
        expect(await exitWithin(second, 30_000)).toEqual({ code: 78, signal: null });
        expect(second.stderr().split('\n').filter((line) => line.length > 0)).toEqual([
          `Invalid configuration: DATA_DIR: the embedded database in ${dataDir} is in use by process ${service.child.pid}; stop it first (one process per DATA_DIR)`,
        ]);
        const directory = await request(service.url).get(DIRECTORY).set('Host', `${first.uid}.${service.authority}`).expect(200);
        expect(directory.body).toEqual({ keys: [first.publicJwk] });
      } finally {
        expect(await stop(service)).toEqual({ code: 0, signal: null });
      }
    },
    START_TIMEOUT_MS + 60_000,
  );

  it(
    'keeps its data across a restart, and finishes in-flight requests (keep-alive too) when SIGTERM arrives',
    async () => {
      const service = await startService(cwd, { DATA_DIR: dataDir });
      const late = Array.from({ length: 4 }, () => agentKeyPair());
      let responses: HttpResult[] = [];
      let signalled = false;
      // Its idle sockets stay open until the process has exited.
      const keepAlive = new Agent({ keepAlive: true });
      try {
        expect(service.stdout()).toContain('Schema is up to date');
        expect(service.stdout()).not.toMatch(/Applying \d+ migration/);

        const directory = await request(service.url).get(DIRECTORY).set('Host', `${first.uid}.${service.authority}`).expect(200);
        expect(directory.body).toEqual({ keys: [first.publicJwk] });
        const again = await request(service.url)
          .post('/register')
          .set('Host', service.authority)
          .set(signatureHeaders(first, { authority: service.authority, tag: 'null' }))
          .send({ public_jwk: first.publicJwk })
          .expect(200);
        expect(again.body).toMatchObject({ uid: first.uid, is_new: false });

        // Registrations whose bodies are still on their way when SIGTERM lands,
        // half of them on keep-alive connections (as a load balancer sends
        // them): those must not hold the shutdown open for the idle timeout.
        const held = late.map((key, i) => heldRegistration(service, key, i % 2 === 0 ? keepAlive : false));
        await Promise.all(held.map((h) => h.accepted));

        service.child.kill('SIGTERM');
        signalled = true;
        // The listener closes first: new connections are refused while the
        // accepted requests are still waiting for their bodies.
        expect(await waitFor(() => refusesConnections(service.port), 10_000)).toBe(true);
        for (const h of held) h.finish();

        responses = await Promise.all(held.map((h) => h.response));
        responses.forEach((response, i) => {
          expect(response.status).toBe(200);
          expect(response.body).toMatchObject({ kid: late[i].kid, is_new: true });
          // No client sends another request on a connection about to close.
          expect(response.connection).toBe('close');
        });
      } finally {
        const exit = signalled ? await exitWithin(service, STOP_TIMEOUT_MS) : await stop(service);
        keepAlive.destroy();
        expect(exit).toEqual({ code: 0, signal: null });
      }

      // The registrations made during shutdown were committed before the database closed.
      const restarted = await startService(cwd, { DATA_DIR: dataDir });
      try {
        for (const [i, response] of responses.entries()) {
          const directory = await request(restarted.url).get(DIRECTORY).set('Host', `${response.body.uid}.${restarted.authority}`).expect(200);
          expect(directory.body).toEqual({ keys: [late[i].publicJwk] });
        }
      } finally {
        expect(await stop(restarted)).toEqual({ code: 0, signal: null });
      }
    },
    2 * START_TIMEOUT_MS + 30_000,
  );
});

describe('Process: shutdown behind a load balancer', () => {
  let cwd: string;
  let dataDir: string;

  beforeAll(() => {
    cwd = mkdtempSync(join(tmpdir(), 'vestauth-process-shutdown-'));
    dataDir = join(cwd, 'data');
  });

  afterAll(() => {
    rmSync(cwd, { recursive: true, force: true });
  });

  it(
    'with SHUTDOWN_DRAIN_SECONDS, keeps serving after SIGTERM while /health/ready answers 503, every response closing its connection, then exits 0',
    async () => {
      const service = await startService(cwd, { DATA_DIR: dataDir, SHUTDOWN_DRAIN_SECONDS: '3' });
      const keepAlive = new Agent({ keepAlive: true });
      try {
        await request(service.url).get('/health/ready').set('Host', service.authority).expect(200);
        service.child.kill('SIGTERM');
        const signalledAt = Date.now();
        expect(await waitFor(async () => (await request(service.url).get('/health/ready').set('Host', service.authority)).status === 503, 2_000)).toBe(true);
        const status = await request(service.url).get('/').set('Host', service.authority).agent(keepAlive).expect(200);
        expect(status.headers.connection).toBe('close');
        expect(Date.now() - signalledAt).toBeLessThan(3_000);
        expect(await waitFor(() => refusesConnections(service.port), 10_000)).toBe(true);
        expect(await exitWithin(service, STOP_TIMEOUT_MS)).toEqual({ code: 0, signal: null });
        expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(3_000);
      } finally {
        keepAlive.destroy();
        if (service.child.exitCode === null) service.child.kill('SIGKILL');
      }
      expect(service.stdout()).toContain('SIGTERM: /health/* answers 503 and responses close their connections; the port closes in 3000 ms, then in-flight requests get 20000 ms (a second signal stops at once)');
      expect(service.stdout()).toMatch(/Stopped in \d+ ms/);
      expect(service.stderr()).toBe('');
    },
    START_TIMEOUT_MS + 30_000,
  );

  it(
    'answers every request pipelined on one connection during the drain, and closes the connection after the last',
    async () => {
      const service = await startService(cwd, { DATA_DIR: dataDir, SHUTDOWN_DRAIN_SECONDS: '3' });
      const key = agentKeyPair();
      const body = JSON.stringify({ public_jwk: key.publicJwk });
      const headerLines = (headers: Record<string, string>) => Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
      const register =
        `POST /register HTTP/1.1\r\nHost: ${service.authority}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `${headerLines(signatureHeaders(key, { authority: service.authority, tag: 'null' }))}\r\n${body}`;
      const live = `GET /health/live HTTP/1.1\r\nHost: ${service.authority}\r\n\r\n`;
      try {
        service.child.kill('SIGTERM');
        expect(await waitFor(() => service.stdout().includes('SIGTERM: /health/* answers 503'), 5_000)).toBe(true);
        const raw = await new Promise<string>((resolve, reject) => {
          const socket = connect(service.port, '127.0.0.1');
          let received = '';
          socket.on('data', (chunk) => (received += chunk.toString('latin1')));
          socket.once('close', () => resolve(received));
          socket.once('error', reject);
          socket.write(live + register + live);
        });
        // Bodies end without a line break: a status line may follow one directly.
        const statusLines = raw.match(/HTTP\/1\.1 \d{3} [^\r]*/g);
        expect(statusLines).toEqual(['HTTP/1.1 503 Service Unavailable', 'HTTP/1.1 200 OK', 'HTTP/1.1 503 Service Unavailable']);
        expect(raw.match(/\r\nConnection: close\r\n/gi)).toHaveLength(1);
        expect(await exitWithin(service, STOP_TIMEOUT_MS)).toEqual({ code: 0, signal: null });
      } finally {
        if (service.child.exitCode === null) service.child.kill('SIGKILL');
      }
    },
    START_TIMEOUT_MS + 30_000,
  );

  it(
    'closes a connection that never sent a request (a balancer\'s pre-opened one) and exits 0 at once, not at the deadline',
    async () => {
      const service = await startService(cwd, { DATA_DIR: dataDir });
      const idle = connect(service.port, '127.0.0.1');
      const closed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
      idle.on('error', () => undefined);
      try {
        await new Promise<void>((resolve) => idle.once('connect', () => resolve()));
        service.child.kill('SIGTERM');
        const signalledAt = Date.now();
        expect(await exitWithin(service, 15_000)).toEqual({ code: 0, signal: null });
        expect(Date.now() - signalledAt).toBeLessThan(10_000);
        await closed;
      } finally {
        idle.destroy();
        if (service.child.exitCode === null) service.child.kill('SIGKILL');
      }
      expect(service.stdout()).not.toContain('Shutdown not finished');
    },
    START_TIMEOUT_MS + 30_000,
  );

  it(
    'stops at once at a second signal while a request holds the shutdown, exiting 1 saying so',
    async () => {
      const service = await startService(cwd, { DATA_DIR: dataDir });
      const stuck = heldRegistration(service, agentKeyPair(), false);
      stuck.response.catch(() => undefined);
      try {
        await stuck.accepted;
        service.child.kill('SIGINT');
        // The same Ctrl-C delivered twice (terminal and npm): not a second signal.
        service.child.kill('SIGINT');
        expect(await waitFor(() => service.stdout().includes('SIGINT: /health/* answers 503'), 5_000)).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        expect(service.child.exitCode).toBeNull();
        service.child.kill('SIGINT');
        expect(await exitWithin(service, 5_000)).toEqual({ code: 1, signal: null });
      } finally {
        if (service.child.exitCode === null) service.child.kill('SIGKILL');
      }
      expect(service.stdout()).toContain('Shutdown not finished at a second signal (SIGINT)');
    },
    START_TIMEOUT_MS + 30_000,
  );

  it(
    'cuts a request that never finishes once SHUTDOWN_TIMEOUT_SECONDS have passed, and exits 1 saying so',
    async () => {
      const service = await startService(cwd, { DATA_DIR: dataDir, SHUTDOWN_TIMEOUT_SECONDS: '2' });
      const stuck = heldRegistration(service, agentKeyPair(), false);
      const cut = stuck.response.then(
        () => 'answered',
        (error: NodeJS.ErrnoException) => error.code,
      );
      try {
        await stuck.accepted;
        service.child.kill('SIGTERM');
        expect(await exitWithin(service, 10_000)).toEqual({ code: 1, signal: null });
      } finally {
        if (service.child.exitCode === null) service.child.kill('SIGKILL');
      }
      expect(await cut).toBe('ECONNRESET');
      expect(service.stdout()).toContain('Shutdown not finished 2000 ms after the signal');
    },
    START_TIMEOUT_MS + 30_000,
  );
});

describe('Process: the embedded database is private to its OS user', () => {
  let cwd: string;

  beforeAll(() => {
    cwd = mkdtempSync(join(tmpdir(), 'vestauth-process-private-'));
  });

  afterAll(() => {
    rmSync(cwd, { recursive: true, force: true });
  });

  it(
    'makes DATA_DIR 0700 whatever the umask, and serves the database on a Unix socket in it, not on TCP',
    async () => {
      const dataDir = join(cwd, 'open');
      mkdirSync(dataDir);
      chmodSync(dataDir, 0o777);
      // The child inherits the umask: with 000, PGlite writes its files 0666.
      const umask = process.umask(0);
      let service: Service;
      try {
        service = await startService(cwd, { DATA_DIR: dataDir });
      } finally {
        process.umask(umask);
      }
      try {
        expect(modeOf(dataDir)).toBe(0o700);
        expect(service.stdout()).toContain(`DATA_DIR ${dataDir} was mode 777: made it 0700`);
        const socketDir = join(dataDir, 'socket');
        expect(modeOf(socketDir)).toBe(0o700);
        expect(statSync(join(socketDir, '.s.PGSQL.5432')).isSocket()).toBe(true);
        // The HTTP port is its only TCP listener: no loopback port for the database.
        expect(tcpListeningPorts(service.child.pid!)).toEqual([service.port]);
        await request(service.url).get('/health/ready').set('Host', service.authority).expect(200);
      } finally {
        expect(await stop(service)).toEqual({ code: 0, signal: null });
      }
      expect(existsSync(join(dataDir, 'socket'))).toBe(false);
      expect(modeOf(dataDir)).toBe(0o700);
    },
    START_TIMEOUT_MS + 30_000,
  );

  it("refuses a DATA_DIR owned by another user: one line naming DATA_DIR, exit 78, the directory untouched", async () => {
    // Only root can hand a directory to another user; anyone else is refused the root directory.
    let dataDir = '/';
    if (process.getuid?.() === 0) {
      dataDir = join(cwd, 'foreign');
      mkdirSync(dataDir, { mode: 0o755 });
      chmodSync(dataDir, 0o755);
      chownSync(dataDir, 65534, 65534);
    }
    const { uid: owner, mode } = statSync(dataDir);
    const listing = readdirSync(dataDir);
    expect(owner).not.toBe(process.getuid?.());
    const service = spawnService(cwd, { PORT: String(await freePort()), DATA_DIR: dataDir });
    const exit = await exitWithin(service, 30_000);
    expect(exit).toEqual({ code: 78, signal: null });
    const lines = service.stderr().split('\n').filter((line) => line.length > 0);
    expect(lines).toEqual([`Invalid configuration: DATA_DIR: ${dataDir} belongs to uid ${owner}, not to this process's user (uid ${process.getuid?.()}): run the service as its owner, or set DATA_DIR to a directory it creates itself (e.g. a subdirectory)`]);
    expect(statSync(dataDir).mode).toBe(mode);
    expect(readdirSync(dataDir)).toEqual(listing);
  }, 40_000);
});
