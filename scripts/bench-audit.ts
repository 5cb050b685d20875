/**
 * Audit query benchmark (issue 5): with 1,000,000 audit events across
 * 10,000 agents, the filtered first page and a deep page by cursor must each
 * answer in under 50 ms on PostgreSQL.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/<scratch db> npx ts-node --transpile-only scripts/bench-audit.ts
 *
 * Options (environment): BENCH_REQUESTS (timed requests per query, default
 * 30), BENCH_DEPTH (pages followed before the deep-page timing, default 100).
 *
 * It seeds the events with one INSERT ... SELECT generate_series (skipped
 * when a previous run left them), runs ANALYZE, registers an admin agent
 * over HTTP, restarts the app with that admin, then times real signed HTTP
 * requests (a fresh signature and nonce each) and prints p50/p95 per query
 * and the EXPLAIN (ANALYZE) of the exact SQL the repository runs for it.
 * Use a scratch database: the seed stays there.
 */
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AuditEventRepository, AuditFilter } from '../src/audit/audit-event.repository';
import { toFilter } from '../src/audit/audit-query.service';
import { AuditQueryDto } from '../src/audit/dto/audit-query.dto';
import { createApp } from '../src/bootstrap';
import { loadAppConfig } from '../src/config/app-config';
import { agentHeaders, registerAgent, RegisteredAgent } from '../test/factories/agent.factory';

const EVENTS = 1_000_000;
const AGENTS = 10_000;
const SEED_USER_AGENT = 'bench-audit-seed';
const TARGET_MS = 50;
const REQUESTS = positiveInt(process.env.BENCH_REQUESTS, 30);
const DEPTH = positiveInt(process.env.BENCH_DEPTH, 100);
const WARMUP = 3;

/** Seeded agent number n as a uid (`agent-<24 hex>`, like real ones). */
const seededUid = (n: number) => `agent-${n.toString(16).padStart(24, '0')}`;

// Time runs from 30 days ago to one hour ago, increasing with id, as live
// traffic does; each agent gets every 10,000th event. Per 100 events: 1
// register, 1 rotate, 1 admin_query, 5 failed verifications (five error
// codes in turn), 92 successful ones.
const SEED_SQL = `
INSERT INTO audit_events (occurred_at, event, outcome, error_code, agent_uid, kid, method, path, authority, ip, user_agent, request_id, detail)
SELECT now() - interval '30 days' + (g * (interval '30 days' - interval '1 hour') / ${EVENTS}),
       CASE WHEN g % 100 = 0 THEN 'register' WHEN g % 100 = 1 THEN 'rotate' WHEN g % 100 = 7 THEN 'admin_query' ELSE 'verify' END,
       CASE WHEN g % 100 BETWEEN 2 AND 6 THEN 'failure' ELSE 'success' END,
       CASE WHEN g % 100 BETWEEN 2 AND 6
            THEN (ARRAY['INVALID_SIGNATURE', 'EXPIRED_SIGNATURE', 'REPLAYED_NONCE', 'UNKNOWN_KEY', 'WRONG_AUTHORITY'])[(g / 100) % 5 + 1] END,
       'agent-' || lpad(to_hex(g % ${AGENTS}), 24, '0'),
       'k' || lpad((g % ${AGENTS})::text, 42, '0'),
       CASE WHEN g % 100 IN (0, 1) THEN 'POST' ELSE 'GET' END,
       CASE WHEN g % 100 = 0 THEN '/register' WHEN g % 100 = 1 THEN '/rotate' ELSE '/whoami' END,
       'localhost:3000',
       '10.0.' || (g % 200) || '.' || (g % 250 + 1),
       '${SEED_USER_AGENT}',
       md5(g::text),
       '{"components":["@authority"]}'::jsonb
  FROM generate_series(1, ${EVENTS}) AS g`;

interface Scenario {
  name: string;
  /** Default /admin/audit-events. */
  path?: string;
  query: Record<string, string>;
  /** Follow next_cursor this many pages, then time the page at that depth. */
  deep?: boolean;
}

interface Row {
  name: string;
  rows: number | null;
  p50: number;
  p95: number;
  max: number;
  plan: string[];
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    process.stderr.write('bench-audit needs DATABASE_URL (a scratch PostgreSQL database); it refuses to seed the embedded one.\n');
    process.exit(2);
  }

  const admin = await registerAdmin(databaseUrl);
  const app = await startApp(databaseUrl, { ADMIN_AGENT_UIDS: admin.uid });
  try {
    const dataSource = app.app.get(DataSource);
    await seed(databaseUrl);
    const signer: RegisteredAgent = { ...admin, agentUrl: `http://${admin.uid}.${app.authority}` };
    const from = new Date(Date.now() - 15 * 86_400_000);
    const window = { from: from.toISOString(), to: new Date(from.getTime() + 86_400_000).toISOString() };
    const scenarios: Scenario[] = [
      // What every signed request costs (signature, nonce, audit row) before any query runs.
      { name: 'baseline: signed GET /whoami', path: '/whoami', query: {} },
      { name: 'first page, no filter', query: {} },
      { name: 'first page, agent_uid', query: { agent_uid: seededUid(4242) } },
      { name: 'first page, event=verify&outcome=failure', query: { event: 'verify', outcome: 'failure' } },
      { name: 'first page, error_code=INVALID_SIGNATURE', query: { error_code: 'INVALID_SIGNATURE' } },
      { name: 'first page, from/to (one day)', query: window },
      { name: 'first page, all filters', query: { agent_uid: seededUid(4242), event: 'verify', outcome: 'success', ...window } },
      { name: `page ${DEPTH + 1}, no filter`, query: {}, deep: true },
      { name: `page ${DEPTH + 1}, event=verify&outcome=failure`, query: { event: 'verify', outcome: 'failure' }, deep: true },
      { name: `page ${DEPTH + 1}, error_code=INVALID_SIGNATURE`, query: { error_code: 'INVALID_SIGNATURE' }, deep: true },
      { name: `page ${DEPTH + 1}, from/to (one day)`, query: window, deep: true },
    ];
    const results: Row[] = [];
    for (const scenario of scenarios) {
      results.push(await run(app.port, app.authority, signer, dataSource, scenario));
    }
    process.stdout.write(`\n${cpus().length} CPU(s) ${cpus()[0]?.model ?? ''}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}, Node ${process.version}\n`);
    printTable(results);
    for (const r of results.filter((x) => x.plan.length > 0)) {
      process.stdout.write(`\n### ${r.name}\n\n${r.plan.join('\n')}\n`);
    }
    const slow = results.filter((r) => r.p50 >= TARGET_MS);
    process.stdout.write(slow.length === 0 ? `\nEvery query's p50 is under ${TARGET_MS} ms.\n` : `\nOver ${TARGET_MS} ms at p50: ${slow.map((r) => r.name).join('; ')}\n`);
  } finally {
    await app.app.close();
  }
}

/** The admin's uid must be configured at start and is assigned on registration: a first app registers it. */
async function registerAdmin(databaseUrl: string): Promise<RegisteredAgent> {
  const app = await startApp(databaseUrl, {});
  try {
    return await registerAgent(`http://127.0.0.1:${app.port}`, app.authority);
  } finally {
    await app.app.close();
  }
}

async function startApp(databaseUrl: string, env: Record<string, string>): Promise<{ app: NestExpressApplication; port: number; authority: string }> {
  const port = await freePort();
  const config = loadAppConfig({
    ...process.env,
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    PUBLIC_URL: `http://localhost:${port}`,
    LOG_LEVEL: 'warn',
    // The seed is a million unsealed events: keep the sealer (and any purge) out of the timings.
    AUDIT_SEAL_INTERVAL_SECONDS: '3600',
    AUDIT_RETENTION_DAYS: undefined,
    ...env,
  });
  const app = await createApp(config);
  await app.listen(port, '127.0.0.1');
  return { app, port, authority: `localhost:${port}` };
}

/** Its own connection: the app's pool has request-sized timeouts, not ones for a million-row load. */
async function seed(databaseUrl: string): Promise<void> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ seeded: number }>(`SELECT count(*)::int AS seeded FROM audit_events WHERE user_agent = $1`, [SEED_USER_AGENT]);
    if (rows[0].seeded >= EVENTS) {
      process.stdout.write(`Seed present (${rows[0].seeded} events).\n`);
    } else {
      const started = performance.now();
      await client.query(SEED_SQL);
      process.stdout.write(`Seeded ${EVENTS} events across ${AGENTS} agents in ${((performance.now() - started) / 1000).toFixed(1)} s.\n`);
    }
    await client.query('ANALYZE audit_events');
    const stats = await client.query<{ total: number; size: string }>(
      `SELECT count(*)::int AS total, pg_size_pretty(pg_total_relation_size('audit_events')) AS size FROM audit_events`,
    );
    process.stdout.write(`audit_events: ${stats.rows[0].total} rows, ${stats.rows[0].size} with indexes.\n`);
  } finally {
    await client.end();
  }
}

async function run(port: number, authority: string, admin: RegisteredAgent, dataSource: DataSource, scenario: Scenario): Promise<Row> {
  const send = (query: Record<string, string>) => getJson(port, authority, admin, scenario.path ?? '/admin/audit-events', query);
  const query = { ...scenario.query };
  if (scenario.deep) {
    for (let page = 0; page < DEPTH; page++) {
      const body = await send(query);
      if (!body.next_cursor) throw new Error(`${scenario.name}: the results end before page ${page + 2}`);
      query.cursor = body.next_cursor;
    }
  }
  for (let i = 0; i < WARMUP; i++) await send(query);
  const times: number[] = [];
  let rows: number | null = null;
  for (let i = 0; i < REQUESTS; i++) {
    const started = performance.now();
    const body = await send(query);
    times.push(performance.now() - started);
    rows = body.events?.length ?? null;
  }
  times.sort((a, b) => a - b);
  const plan = scenario.path ? [] : await explain(dataSource, query);
  return { name: scenario.name, rows, p50: percentile(times, 0.5), p95: percentile(times, 0.95), max: times[times.length - 1], plan };
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of the statement AuditEventRepository.search
 * itself builds: a view of the app's DataSource whose query() explains
 * each statement before running it.
 */
async function explain(dataSource: DataSource, query: Record<string, string>): Promise<string[]> {
  const plan: string[] = [];
  const explaining: DataSource = Object.create(dataSource);
  explaining.query = async <T>(sql: string, parameters?: unknown[]): Promise<T> => {
    const rows: Array<{ 'QUERY PLAN': string }> = await dataSource.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, parameters);
    plan.push(...rows.map((r) => r['QUERY PLAN']));
    return dataSource.query<T>(sql, parameters);
  };
  const filter: AuditFilter = toFilter(Object.assign(new AuditQueryDto(), query));
  // The service asks for one row more than the page, to know whether another follows.
  await new AuditEventRepository(explaining).search(filter, 51);
  return plan;
}

interface PageBody {
  events?: unknown[];
  next_cursor?: string | null;
}

const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });

/** One signed GET, signed just before it is sent. */
function getJson(port: number, authority: string, admin: RegisteredAgent, route: string, query: Record<string, string>): Promise<PageBody> {
  const search = new URLSearchParams(query).toString();
  const path = search ? `${route}?${search}` : route;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: keepAlive, headers: { host: authority, ...agentHeaders(admin, authority) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return reject(new Error(`GET ${path}: ${res.statusCode} ${text}`));
        const body: PageBody = JSON.parse(text);
        resolve(body);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function printTable(rows: Row[]): void {
  const lines = [
    `| query (${REQUESTS} requests each, over HTTP) | rows | p50 ms | p95 ms | max ms | SQL ms | plan |`,
    '|---|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) =>
      `| ${r.name} | ${r.rows ?? '-'} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.max.toFixed(1)} | ${r.plan.length ? executionMs(r.plan) : '-'} | ${r.plan.length ? planSummary(r.plan) : '-'} |`,
    ),
  ];
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

/** The index the page is read from, and whether anything had to be sorted. */
function planSummary(plan: string[]): string {
  const scans = plan.map((line) => /(Index(?: Only)? Scan(?: Backward)?) using (\S+)/.exec(line)).filter((m) => m !== null);
  const sorted = plan.some((line) => /\bSort\b/.test(line) && !/Sort Key|Sort Method/.test(line));
  // The primary key scan, if any, is the cursor's InitPlan (one row); the page comes from the other.
  const main = scans.find((m) => !m[2].includes('PK_')) ?? scans[0];
  return `${main ? `${main[1]} on ${main[2]}` : 'no index scan'}${sorted ? ', SORT' : ''}`;
}

function executionMs(plan: string[]): string {
  const line = plan.find((l) => l.startsWith('Execution Time:'));
  return line ? line.replace(/^Execution Time: ([\d.]+) ms$/, '$1') : '?';
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

function positiveInt(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench-audit failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
