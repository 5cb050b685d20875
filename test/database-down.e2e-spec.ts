import { get as httpGet } from 'node:http';
import { createServer, connect, Server, Socket } from 'node:net';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import request from 'supertest';
import { agentHeaders, agentKeyPair, RegisteredAgent, registerAgent, signatureHeaders } from './factories/agent.factory';
import { startTestAppWithAdmin, TestApp } from './support/test-app';

const DIRECTORY = '/.well-known/http-message-signatures-directory';
// Longer than the connect (1 s) and statement (2 s + 1 s read) timeouts the app gets
// below: a request that outlives this hangs instead of failing fast.
const ANSWER_WITHIN_MS = 5_000;

type ProxyMode = 'open' | 'refuse' | 'blackhole';

/**
 * A TCP proxy between the app and the test database that the test can cut:
 * `refuse` drops every connection and stops listening (a database that is
 * down), `blackhole` keeps the connections but never delivers a byte (a
 * network partition or a frozen server: the app's timeouts must fire).
 */
class CuttableProxy {
  private readonly server: Server = createServer((client) => this.accept(client));
  private readonly sockets = new Set<Socket>();
  private mode: ProxyMode = 'open';
  private cutMarker: string | undefined;
  port = 0;

  /** `target`: a TCP host and port, or the path of a Unix socket (the embedded PGlite's). */
  constructor(private readonly target: { host: string; port: number } | { path: string }) {}

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
  }

  async refuse(): Promise<void> {
    this.mode = 'refuse';
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  blackhole(): void {
    this.mode = 'blackhole';
  }

  /** Drops the connection that sends a statement containing `marker` (the database dies under that one query). */
  cutOn(marker: string): void {
    this.cutMarker = marker;
  }

  /** Back to normal; the connections the cut left half-open are dropped. */
  async restore(): Promise<void> {
    const wasListening = this.server.listening;
    this.dropAll();
    this.mode = 'open';
    this.cutMarker = undefined;
    if (!wasListening) await this.listen();
  }

  async close(): Promise<void> {
    this.dropAll();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.track(client);
    if (this.mode !== 'open') {
      client.on('data', () => undefined);
      return;
    }
    const upstream = 'path' in this.target ? connect(this.target.path) : connect(this.target.port, this.target.host);
    this.track(upstream);
    client.on('data', (chunk: Buffer) => {
      if (this.cutMarker !== undefined && chunk.includes(this.cutMarker)) {
        client.destroy();
        upstream.destroy();
        return;
      }
      if (this.mode === 'open') upstream.write(chunk);
    });
    upstream.on('data', (chunk) => this.mode === 'open' && client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  private dropAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}

/**
 * A GET that reports whether the body arrived whole (supertest hides a cut-off
 * chunked transfer). Rejects, rather than reporting a cut-off body, if the
 * response has not ended within `ms`: a hang is no truncation.
 */
function rawGet(url: string, headers: Record<string, string>, ms: number): Promise<{ status: number; headers: Record<string, unknown>; body: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('error', () => undefined); // "aborted": the point of the test
      res.on('close', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, complete: res.complete });
      });
    }).on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    const timer = setTimeout(() => {
      reject(new Error(`no whole answer within ${ms} ms`));
      req.destroy();
    }, ms);
  });
}

/** The error body every outage answer must have, with Retry-After. */
function expectDatabaseUnavailable(res: request.Response): void {
  expect(res.status).toBe(503);
  expect(res.body).toEqual({ error: { status: 503, code: 'DATABASE_UNAVAILABLE', message: expect.any(String) } });
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
}

describe('Database unavailable (e2e)', () => {
  let proxy: CuttableProxy;
  let t: TestApp;
  let authority: string;
  let agent: RegisteredAgent;
  let admin: RegisteredAgent;

  beforeAll(async () => {
    const target = new URL(process.env.DATABASE_URL!);
    const port = Number(target.port || 5432);
    // The embedded PGlite listens on a Unix socket: postgres://…?host=<socket directory>.
    const socketDir = target.searchParams.get('host');
    proxy = new CuttableProxy(socketDir?.startsWith('/') ? { path: join(socketDir, `.s.PGSQL.${port}`) } : { host: target.hostname, port });
    await proxy.listen();
    const proxied = new URL(target.href);
    proxied.searchParams.delete('host');
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    // No key or directory cache: every request here must reach the database
    // (a cached directory would rightly still answer during the outage).
    ({ app: t, admin } = await startTestAppWithAdmin({ DATABASE_URL: proxied.href, DB_CONNECT_TIMEOUT_MS: '1000', DB_STATEMENT_TIMEOUT_MS: '2000', KEY_CACHE_TTL_MS: '0' }));
    authority = `localhost:${t.port}`;
    agent = await registerAgent(t.url, authority);
  });

  afterEach(async () => {
    await proxy.restore();
  });

  afterAll(async () => {
    await proxy?.restore();
    await t?.close();
    await proxy?.close();
  });

  const http = () => request(t.url);
  const directoryOf = (uid: string) => http().get(DIRECTORY).set('Host', `${uid}.${authority}`).timeout(ANSWER_WITHIN_MS);
  const registration = () => {
    const key = agentKeyPair();
    return http()
      .post('/register')
      .set('Host', authority)
      .set(signatureHeaders(key, { authority, tag: 'null' }))
      .send({ public_jwk: key.publicJwk })
      .timeout(ANSWER_WITHIN_MS);
  };

  async function expectOutageAnswers(): Promise<void> {
    expectDatabaseUnavailable(await directoryOf(agent.uid));
    expectDatabaseUnavailable(await registration());
    expectDatabaseUnavailable(await http().get('/health/ready').timeout(ANSWER_WITHIN_MS));
    await http().get('/health/live').timeout(ANSWER_WITHIN_MS).expect(200);
    await http().get('/').timeout(ANSWER_WITHIN_MS).expect(200);
  }

  /** Waits for /health/ready to answer 200: the pool has let go of the connections a cut left dead. */
  async function expectReady(): Promise<void> {
    let ready = 0;
    for (let attempt = 0; attempt < 50 && ready !== 200; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 200));
      ready = (await http().get('/health/ready').timeout(ANSWER_WITHIN_MS)).status;
    }
    expect(ready).toBe(200);
  }

  /** Recovery without a restart: ready again, and both reads and writes work. */
  async function expectRecovery(): Promise<void> {
    await expectReady();
    const res = await registration().expect(200);
    expect(res.body.is_new).toBe(true);
    await directoryOf(res.body.uid).expect(200);
    await directoryOf(agent.uid).expect(200);
  }

  it('answers 503 DATABASE_UNAVAILABLE while the database refuses connections, then recovers', async () => {
    await http().get('/health/ready').expect(200);
    await proxy.refuse();
    await expectOutageAnswers();
    await proxy.restore();
    await expectRecovery();
  });

  it('answers 503 DATABASE_UNAVAILABLE, not a hang, while the database stops answering, then recovers', async () => {
    await http().get('/health/ready').expect(200);
    proxy.blackhole();
    await expectOutageAnswers();
    await proxy.restore();
    await expectRecovery();
  });

  it('answers 503, never 500, to concurrent requests during an outage', async () => {
    await proxy.refuse();
    const results = await Promise.all([
      ...Array.from({ length: 4 }, () => directoryOf(agent.uid)),
      ...Array.from({ length: 4 }, () => registration()),
    ]);
    for (const res of results) expectDatabaseUnavailable(res);
    await proxy.restore();
    await expectRecovery();
  });

  describe('CSV export of the audit trail', () => {
    // The export's own query (the admin's signature check and its admin_query row still succeed).
    const AUDIT_SEARCH = 'ORDER BY audit_events.occurred_at';
    const exportCsv = () => http().get('/admin/audit-events').query({ format: 'csv' }).set(agentHeaders(admin, authority)).timeout(ANSWER_WITHIN_MS);

    it('answers 503 DATABASE_UNAVAILABLE as JSON, not a 400 text/plain, when the database fails under its query', async () => {
      await exportCsv().expect(200);
      proxy.cutOn(AUDIT_SEARCH);
      const res = await exportCsv();
      expectDatabaseUnavailable(res);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['content-disposition']).toBeUndefined();
      // The JSON form of the same query answers the same.
      expectDatabaseUnavailable(await http().get('/admin/audit-events').set(agentHeaders(admin, authority)).timeout(ANSWER_WITHIN_MS));
      await proxy.restore();
      const again = await exportCsv().expect(200);
      expect(again.headers['content-type']).toMatch(/^text\/csv/);
      expect(again.headers['content-disposition']).toBe('attachment; filename="audit-events.csv"');
    });

    it('is cut off (a truncated transfer, not a complete file) and logged when the database fails under a later batch', async () => {
      // The export reads in batches of 1000 (CSV_BATCH in src/audit/audit-query.service.ts):
      // more events than that make it ask for a second batch, the keyset query after the first.
      const BATCH = 1000;
      const NEXT_BATCH = '(occurred_at, id) <';
      await expectReady();
      // Successful GET /whoami checks by the agent, as the app records them: ids from the
      // identity and occurred_at from clock_timestamp() (the column defaults), so they are
      // sealed like any other events.
      await t.dataSource.query(
        `INSERT INTO audit_events (event, outcome, agent_uid, kid, method, path, authority, ip, user_agent, request_id, detail)
         SELECT 'verify', 'success', $1, $2, 'GET', '/whoami', $3, '127.0.0.1', 'database-down-e2e/1.0', gen_random_uuid()::text, '{"components": ["@authority"]}'::jsonb
           FROM generate_series(1, $4)`,
        [agent.uid, agent.kid, authority, BATCH + 200],
      );
      // By the column, as the export does: a bare `occurred_at` would sort by the text alias, in the database's collation.
      const expected: Array<{ id: string; occurred_at: string; request_id: string }> = await t.dataSource.query(
        `SELECT id::text AS id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at, request_id
           FROM audit_events WHERE agent_uid = $1 ORDER BY audit_events.occurred_at DESC, audit_events.id DESC`,
        [agent.uid],
      );
      expect(expected.length).toBeGreaterThan(BATCH);
      const newest = expected[0];

      proxy.cutOn(NEXT_BATCH);
      const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      let res: Awaited<ReturnType<typeof rawGet>>;
      try {
        res = await rawGet(`${t.url}/admin/audit-events?format=csv&agent_uid=${agent.uid}`, agentHeaders(admin, authority), ANSWER_WITHIN_MS);
        expect(logged).toHaveBeenCalledWith(
          expect.stringMatching(/^GET \/admin\/audit-events request_id=\S+: CSV export failed after the response started \(DATABASE_UNAVAILABLE\); connection closed$/),
          expect.any(String),
        );
      } finally {
        logged.mockRestore();
      }
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      // Cut off: no terminating chunk, so no client can take it for the whole range.
      expect(res.complete).toBe(false);
      const lines = res.body.split('\n');
      expect(lines[0]).toBe('id,occurred_at,event,outcome,error_code,agent_uid,kid,method,path,authority,ip,user_agent,request_id,detail');
      // The first row is the agent's newest event, as stored.
      expect(lines[1]).toBe(
        `${newest.id},${newest.occurred_at},verify,success,,${agent.uid},${agent.kid},GET,/whoami,${authority},127.0.0.1,database-down-e2e/1.0,${newest.request_id},"{""components"":[""@authority""]}"`,
      );
      // What arrived is the first batch, in order, and nothing past it (the last line may be cut short).
      const ids = lines.slice(1, -1).map((line) => line.split(',')[0]);
      expect(ids.length).toBeGreaterThan(0);
      expect(ids.length).toBeLessThanOrEqual(BATCH);
      expect(ids).toEqual(expected.slice(0, ids.length).map((e) => e.id));

      // Once the database answers again, the same export is whole: every event of the agent.
      await proxy.restore();
      await expectReady();
      const again = await rawGet(`${t.url}/admin/audit-events?format=csv&agent_uid=${agent.uid}`, agentHeaders(admin, authority), ANSWER_WITHIN_MS);
      expect(again.status).toBe(200);
      expect(again.complete).toBe(true);
      const all = again.body.split('\n');
      expect(all.pop()).toBe('');
      expect(all.slice(1).map((line) => line.split(',')[0])).toEqual(expected.map((e) => e.id));
    });

    it('answers 503 DATABASE_UNAVAILABLE as JSON while the database refuses connections', async () => {
      await proxy.refuse();
      const res = await exportCsv();
      expectDatabaseUnavailable(res);
      expect(res.headers['content-disposition']).toBeUndefined();
    });
  });
});
