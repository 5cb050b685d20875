/**
 * `npm run soak`: mixed load against our service for a long time, to show
 * that it keeps answering without errors and without growing.
 *
 *   npm run soak -- [--duration 600] [--connections 8] [--interval 30] [--agents 200]
 *
 * Starts the built service (PostgreSQL from DATABASE_URL, embedded PGlite
 * otherwise), creates an admin with the operator CLI, registers agents, then
 * runs until the duration is over: 10% registrations (new key), 60% signed
 * GET /whoami, 25% directory reads, 5% admin audit queries. Every interval it
 * prints request counts, errors and latency percentiles per operation and the
 * service's resident memory; at the end, the memory at start and end and
 * the totals. Exit code 1 when any request failed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentKeyPair, signatureHeaders } from '../test/factories/agent.factory';
import { benchKeyPair, registerRequest, seedAgents, send } from './bench/agents';
import { freePort, ROOT, startOurs, stopAll } from './bench/servers';

type Operation = 'register' | 'whoami' | 'directory' | 'admin';
const MIX: Array<[Operation, number]> = [
  ['register', 0.1],
  ['whoami', 0.6],
  ['directory', 0.25],
  ['admin', 0.05],
];

interface Options {
  durationSeconds: number;
  connections: number;
  intervalSeconds: number;
  agents: number;
}

interface Window {
  latencies: Record<Operation, number[]>;
  errors: Record<Operation, number>;
  codes: Map<string, number>;
}

function parseOptions(argv: string[]): Options {
  const value = (name: string, fallback: number): number => {
    const i = argv.indexOf(`--${name}`);
    if (i === -1) return fallback;
    const n = Number(argv[i + 1]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
    return n;
  };
  return { durationSeconds: value('duration', 600), connections: value('connections', 8), intervalSeconds: value('interval', 30), agents: value('agents', 200) };
}

function newWindow(): Window {
  return {
    latencies: { register: [], whoami: [], directory: [], admin: [] },
    errors: { register: 0, whoami: 0, directory: 0, admin: 0 },
    codes: new Map(),
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return line ? Math.round(Number(line.split(/\s+/)[1]) / 1024) : 0;
}

function pick(): Operation {
  let r = Math.random();
  for (const [op, weight] of MIX) {
    if ((r -= weight) < 0) return op;
  }
  return 'whoami';
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const workDir = mkdtempSync(join(tmpdir(), 'vestauth-soak-'));
  const port = await freePort();
  const authority = `localhost:${port}`;
  const databaseUrl = process.env.DATABASE_URL;
  process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    // The first admin, made by the operator CLI before the service opens the database.
    const cliEnv = { ...process.env, PORT: String(port), PUBLIC_URL: `http://${authority}`, DATA_DIR: join(workDir, 'data'), LOG_LEVEL: 'warn' };
    execFileSync(process.execPath, [join(ROOT, 'dist', 'cli', 'admin-cli.js'), 'create-admin', '--out', join(workDir, 'admin.env')], { env: cliEnv, cwd: workDir, stdio: 'pipe' });
    const adminEnv = readFileSync(join(workDir, 'admin.env'), 'utf8');
    const adminUid = /AGENT_UID="(agent-[0-9a-f]{24})"/.exec(adminEnv)![1];
    const adminJwk = JSON.parse(/AGENT_PRIVATE_JWK="(.*)"/.exec(adminEnv)![1]) as { x: string; d: string; kid: string };
    process.env.ADMIN_AGENT_UIDS = adminUid;

    const server = await startOurs({ port, databaseUrl, workDir, logFile: join(workDir, 'service.log') });
    const pid = server.child.pid!;
    const keys = Array.from({ length: options.agents }, () => benchKeyPair());
    const agents = await seedAgents(port, authority, keys, 16, () => undefined);
    const { keyPairOf } = await import('./bench/agents');
    const signers = agents.map((a) => ({ uid: a.uid, key: keyPairOf(a) }));
    const admin = { uid: adminUid, key: keyPairOf({ uid: adminUid, kid: adminJwk.kid, x: adminJwk.x, d: adminJwk.d }) };

    const startRss = rssMb(pid);
    process.stdout.write(
      `soak: ${options.durationSeconds} s, ${options.connections} connections, ${options.agents} agents, ` +
        `database: ${databaseUrl ? 'PostgreSQL (DATABASE_URL)' : 'embedded PGlite'}; RSS at start ${startRss} MB\n\n` +
        `| t (s) | requests | errors | whoami p50/p99 ms | directory p50/p99 ms | register p50/p99 ms | admin p50/p99 ms | RSS MB |\n|---:|---:|---:|---|---|---|---|---:|\n`,
    );

    const httpAgent = new Agent({ keepAlive: true, maxSockets: options.connections });
    const deadline = Date.now() + options.durationSeconds * 1000;
    let window = newWindow();
    const totals = { requests: 0, errors: 0, codes: new Map<string, number>() };
    const rssSamples: number[] = [startRss];

    const one = async (op: Operation): Promise<void> => {
      const started = process.hrtime.bigint();
      let status = 0;
      try {
        status = (await request(op, httpAgent, port, authority, signers, admin)).status;
      } catch (error) {
        window.codes.set((error as Error).message.slice(0, 60), (window.codes.get((error as Error).message.slice(0, 60)) ?? 0) + 1);
      }
      window.latencies[op].push(Number(process.hrtime.bigint() - started) / 1e6);
      if (status < 200 || status >= 300) {
        window.errors[op]++;
        if (status) window.codes.set(`${op} ${status}`, (window.codes.get(`${op} ${status}`) ?? 0) + 1);
      }
    };
    const worker = async (): Promise<void> => {
      while (Date.now() < deadline) await one(pick());
    };
    const report = (elapsed: number): void => {
      const ops: Operation[] = ['whoami', 'directory', 'register', 'admin'];
      const count = ops.reduce((n, op) => n + window.latencies[op].length, 0);
      const errors = ops.reduce((n, op) => n + window.errors[op], 0);
      const cells = ops.map((op) => {
        const sorted = window.latencies[op].sort((a, b) => a - b);
        return `${percentile(sorted, 50).toFixed(1)} / ${percentile(sorted, 99).toFixed(1)}`;
      });
      const rss = rssMb(pid);
      rssSamples.push(rss);
      process.stdout.write(`| ${elapsed} | ${count} | ${errors} | ${cells.join(' | ')} | ${rss} |\n`);
      totals.requests += count;
      totals.errors += errors;
      for (const [code, n] of window.codes) totals.codes.set(code, (totals.codes.get(code) ?? 0) + n);
      window = newWindow();
    };
    const started = Date.now();
    const ticker = setInterval(() => report(Math.round((Date.now() - started) / 1000)), options.intervalSeconds * 1000);
    await Promise.all(Array.from({ length: options.connections }, worker));
    clearInterval(ticker);
    report(Math.round((Date.now() - started) / 1000));
    httpAgent.destroy();

    const endRss = rssMb(pid);
    process.stdout.write(
      `\nrequests: ${totals.requests}, errors: ${totals.errors}${totals.codes.size ? ` (${[...totals.codes].map(([c, n]) => `${c}: ${n}`).join(', ')})` : ''}\n` +
        `RSS: start ${startRss} MB, end ${endRss} MB, max ${Math.max(...rssSamples)} MB\n`,
    );
    process.exitCode = totals.errors === 0 ? 0 : 1;
  } finally {
    await stopAll();
    rmSync(workDir, { recursive: true, force: true });
  }
}

async function request(
  op: Operation,
  agent: Agent,
  port: number,
  authority: string,
  signers: Array<{ uid: string; key: AgentKeyPair }>,
  admin: { uid: string; key: AgentKeyPair },
): Promise<{ status: number }> {
  const signer = signers[Math.floor(Math.random() * signers.length)];
  switch (op) {
    case 'register': {
      const { headers, body } = registerRequest(benchKeyPair(), authority);
      return send(agent, port, 'POST', '/register', headers, body);
    }
    case 'whoami':
      return send(agent, port, 'GET', '/whoami', { host: authority, ...signatureHeaders(signer.key, { authority, agentUrl: `http://${signer.uid}.${authority}` }) });
    case 'directory':
      return send(agent, port, 'GET', '/.well-known/http-message-signatures-directory', { host: `${signer.uid}.${authority}` });
    case 'admin':
      return send(agent, port, 'GET', `/admin/audit-events?agent_uid=${signer.uid}&limit=20`, {
        host: authority,
        ...signatureHeaders(admin.key, { authority, agentUrl: `http://${admin.uid}.${authority}` }),
      });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`soak failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
