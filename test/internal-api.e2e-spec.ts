import { createHash, randomBytes } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { ArgumentsHost, Catch, Controller, ExceptionFilter, Get, HttpException, Module, Provider } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { LoggerService } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { NestFactory } from '@nestjs/core';
import { createInternalApi } from '../examples/internal-api/internal-api';
import { InternalApiModule } from '../examples/internal-api/internal-api.module';
import { KeyResolver } from '../src/verification/key-resolver';
import { VerificationModule } from '../src/verification/verification.module';
import type { VerificationModuleOptions } from '../src/verification/verification.module';
import { NonceStore } from '../src/verification/nonce-store';
import { SignedAgent } from '../src/verification/signed-agent.decorator';
import { CurrentAgent } from '../src/verification/verified-agent.decorator';
import type { VerifiedAgent } from '../src/verification/verified-agent';
import { RemoteKeyResolver } from '../src/verification/remote-key-resolver';
import { MemoryNonceStore } from '../src/verification/memory-nonce-store';
import { agentHeaders, agentKeyPair, RegisteredAgent, registerAgent, signatureHeaders } from './factories/agent.factory';
import { freePort, startTestApp, TestApp } from './support/test-app';

interface LogLine {
  level: string;
  message: string;
  context?: string;
}

interface InternalApi {
  app: NestExpressApplication;
  port: number;
  url: string;
  /** host[:port] agents must sign for. */
  authority: string;
  logs: LogLine[];
}

/**
 * The example internal API (examples/internal-api), started exactly as its
 * main.ts does, trusting the agents of the authority at `authorityUrl`. Its
 * directory fetches go to the authority on loopback over http, which only
 * these two options allow.
 */
async function startInternalApi(authorityUrl: string, extra: Partial<VerificationModuleOptions> = {}, fixedPort?: number): Promise<InternalApi> {
  const port = fixedPort ?? (await freePort());
  const logs: LogLine[] = [];
  const app = await createInternalApi(
    {
      authorityUrl,
      acceptedAuthorities: [`localhost:${port}`],
      allowInsecureLocalhost: true,
      allowPrivateNetworks: true,
      ...extra,
    },
    { logger: capturingLogger(logs) },
  );
  await app.listen(port, '127.0.0.1');
  return { app, port, url: `http://localhost:${port}`, authority: `localhost:${port}`, logs };
}

// Nest replaces its static logger with the last one given, so the
// authority's lines arrive here too; the API's audit lines are told apart by
// their context. Errors still reach stderr.
function capturingLogger(logs: LogLine[]): LoggerService {
  const keep = (level: string) => (message: unknown, context?: unknown): void => {
    logs.push({ level, message: String(message), context: typeof context === 'string' ? context : undefined });
  };
  return {
    log: keep('log'),
    warn: keep('warn'),
    debug: keep('debug'),
    verbose: keep('verbose'),
    error: (...args: unknown[]) => process.stderr.write(`[internal api error] ${args.map(String).join(' ')}\n`),
    fatal: (...args: unknown[]) => process.stderr.write(`[internal api fatal] ${args.map(String).join(' ')}\n`),
  };
}

function auditLines(api: InternalApi): string[] {
  return api.logs.filter((line) => line.context === 'SignedAgentAudit').map((line) => line.message);
}

function contentDigest(body: string): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

function unknownUid(): string {
  return `agent-${randomBytes(12).toString('hex')}`;
}

const DIRECTORY = '/.well-known/http-message-signatures-directory';

describe('Internal API protected by VerificationModule.forRoot (e2e)', () => {
  let t: TestApp;
  let api: InternalApi;
  /** The authority's host[:port]: agent hosts are <uid>.<authority>. */
  let authority: string;

  beforeAll(async () => {
    // max-age=0: the API revalidates the directory on every request, so a
    // rotation is visible at once (the cached case is covered further down).
    t = await startTestApp({ DIRECTORY_MAX_AGE_SECONDS: '0' });
    authority = `localhost:${t.port}`;
    api = await startInternalApi(t.url);
  });

  afterAll(async () => {
    await api?.app.close();
    await t?.close();
  });

  const callApi = () => request(api.url);
  const signedForApi = (agent: RegisteredAgent) => agentHeaders(agent, api.authority);

  it('serves /health without a signature', async () => {
    const res = await callApi().get('/health').expect(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('refuses an unsigned request with the authority error body', async () => {
    const res = await callApi().get('/reports').expect(401);
    expect(res.body).toEqual({ error: { status: 401, code: 'MISSING_SIGNATURE_INPUT', message: expect.any(String) } });
    const unknownRoute = await callApi().get('/nowhere').expect(404);
    expect(unknownRoute.body.error).toEqual({ status: 404, code: 'NOT_FOUND', message: 'no route for GET /nowhere' });
  });

  it('accepts an agent registered at the authority, then refuses the same signature replayed', async () => {
    const agent = await registerAgent(t.url, authority);
    const headers = signedForApi(agent);

    const res = await callApi().get('/reports').set(headers).expect(200);
    expect(res.body).toEqual({ agent: agent.uid, reports: expect.arrayContaining([expect.objectContaining({ title: expect.any(String) })]) });

    const replay = await callApi().get('/reports').set(headers).expect(401);
    expect(replay.body.error.code).toBe('REPLAYED_NONCE');
    expect(auditLines(api)).toEqual(
      expect.arrayContaining([
        `verify success agent=${agent.uid} GET /reports`,
        `verify failure REPLAYED_NONCE agent=${agent.uid} GET /reports`,
      ]),
    );
  });

  it('accepts an older client\'s Signature-Agent without scheme naming the authority\'s agent host (fetched with the authority\'s scheme, http here)', async () => {
    const agent = await registerAgent(t.url, authority);
    for (const agentUrl of [`${agent.uid}.${authority}`, `${agent.uid.toUpperCase()}.${authority}`]) {
      const res = await callApi().get('/reports').set(agentHeaders(agent, api.authority, { agentUrl })).expect(200);
      expect(res.body.agent).toBe(agent.uid);
    }
  });

  it('refuses a signature made for the authority instead of the API (WRONG_AUTHORITY)', async () => {
    const agent = await registerAgent(t.url, authority);
    // Forwarded with the Host it was signed for: it verifies, but not for this service.
    const relayed = await callApi().get('/reports').set('Host', authority).set(agentHeaders(agent, authority)).expect(401);
    expect(relayed.body.error.code).toBe('WRONG_AUTHORITY');
    // Sent to the API's own host, the covered @authority no longer matches.
    const misdirected = await callApi().get('/reports').set(agentHeaders(agent, authority)).expect(401);
    expect(misdirected.body.error.code).toBe('INVALID_SIGNATURE');
  });

  it('refuses an agent the authority does not know: its directory answers 404 (UNKNOWN_KEY)', async () => {
    const uid = unknownUid();
    const agentUrl = `http://${uid}.${authority}`;
    await request(t.url).get(DIRECTORY).set('Host', `${uid}.${authority}`).expect(404);

    const res = await callApi().get('/reports').set(signatureHeaders(agentKeyPair(), { authority: api.authority, agentUrl })).expect(401);
    expect(res.body.error).toEqual({ status: 401, code: 'UNKNOWN_KEY', message: 'unknown key' });
    expect(api.logs).toContainEqual({ level: 'warn', context: 'RemoteKeyResolver', message: `directory ${agentUrl} unavailable: status_404` });
  });

  describe('an untrusted Signature-Agent', () => {
    let canary: Server;
    let canaryHits = 0;
    let canaryPort: number;

    beforeAll(async () => {
      canaryPort = await freePort();
      canary = createServer((_req, res) => {
        canaryHits++;
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"keys":[]}');
      });
      await new Promise<void>((resolve) => canary.listen(canaryPort, '127.0.0.1', resolve));
    });

    afterAll(async () => {
      await new Promise<void>((resolve) => canary.close(() => resolve()));
    });

    it('is refused (403 UNTRUSTED_SIGNATURE_AGENT) and never fetched', async () => {
      const agent = await registerAgent(t.url, authority);
      // Same name pattern as the authority's agents, but on another port: not the authority.
      const foreignHosts = [`http://${agent.uid}.localhost:${canaryPort}`, `https://${agent.uid}.example.com`];
      for (const agentUrl of foreignHosts) {
        const res = await callApi().get('/reports').set(agentHeaders(agent, api.authority, { agentUrl })).expect(403);
        expect(res.body.error.code).toBe('UNTRUSTED_SIGNATURE_AGENT');
      }
      expect(canaryHits).toBe(0);
    });
  });

  describe('POST /reports (requires @method, @path and content-digest)', () => {
    const body = JSON.stringify({ title: 'Incident review' });
    const writeComponents = (digestedBody: string): Array<[string, string]> => [
      ['@method', 'POST'],
      ['@path', '/reports'],
      ['content-digest', contentDigest(digestedBody)],
    ];

    it('accepts a request that covers all three, and files the report under the agent', async () => {
      const agent = await registerAgent(t.url, authority);
      const res = await callApi()
        .post('/reports')
        .set('Content-Type', 'application/json')
        .set('Content-Digest', contentDigest(body))
        .set(agentHeaders(agent, api.authority, { extra: writeComponents(body) }))
        .send(body)
        .expect(201);
      expect(res.body).toEqual({ id: expect.any(String), title: 'Incident review', author: agent.uid, created_at: expect.any(String) });

      const list = await callApi().get('/reports').set(signedForApi(agent)).expect(200);
      expect(list.body.reports).toContainEqual(res.body);
    });

    it('refuses a signature that does not cover content-digest (MISSING_COMPONENT)', async () => {
      const agent = await registerAgent(t.url, authority);
      const res = await callApi()
        .post('/reports')
        .set('Content-Type', 'application/json')
        .set('Content-Digest', contentDigest(body))
        .set(agentHeaders(agent, api.authority, { extra: writeComponents(body).slice(0, 2) }))
        .send(body)
        .expect(401);
      expect(res.body.error.code).toBe('MISSING_COMPONENT');
    });

    it('refuses a body that is not the one the signed digest describes (INVALID_CONTENT_DIGEST)', async () => {
      const agent = await registerAgent(t.url, authority);
      const res = await callApi()
        .post('/reports')
        .set('Content-Type', 'application/json')
        .set('Content-Digest', contentDigest(body))
        .set(agentHeaders(agent, api.authority, { extra: writeComponents(body) }))
        .send(JSON.stringify({ title: 'Something else' }))
        .expect(401);
      expect(res.body.error.code).toBe('INVALID_CONTENT_DIGEST');
    });
  });

  // An app that forgot `rawBody: true`: the JSON body is parsed, its bytes are not kept.
  describe('in an app created without rawBody', () => {
    let bare: NestExpressApplication;
    let bareUrl: string;
    let bareAuthority: string;
    const body = JSON.stringify({ title: 'Incident review' });
    const components = (digest: string): Array<[string, string]> => [
      ['@method', 'POST'],
      ['@path', '/reports'],
      ['content-digest', digest],
    ];

    beforeAll(async () => {
      const port = await freePort();
      bareAuthority = `localhost:${port}`;
      bare = await NestFactory.create<NestExpressApplication>(
        InternalApiModule.forRoot({ authorityUrl: t.url, acceptedAuthorities: [bareAuthority], allowInsecureLocalhost: true, allowPrivateNetworks: true }),
        { bodyParser: false, logger: false, abortOnError: false },
      );
      bare.useBodyParser('json');
      await bare.listen(port, '127.0.0.1');
      bareUrl = `http://${bareAuthority}`;
    });

    afterAll(async () => {
      await bare?.close();
    });

    it.each([
      ['the digest of an empty body', ''],
      ['the digest of the body sent', body],
    ])('refuses a covered content-digest (%s): 401 INVALID_CONTENT_DIGEST, the body was not kept', async (_name, digested) => {
      const agent = await registerAgent(t.url, authority);
      const res = await request(bareUrl)
        .post('/reports')
        .set('Content-Type', 'application/json')
        .set('Content-Digest', contentDigest(digested))
        .set(agentHeaders(agent, bareAuthority, { extra: components(contentDigest(digested)) }))
        .send(body)
        .expect(401);
      expect(res.body.error).toEqual({ status: 401, code: 'INVALID_CONTENT_DIGEST', message: expect.stringContaining('not read') });
    });
  });

  it('follows a rotation at the authority: the new key works, the old one is refused', async () => {
    const agent = await registerAgent(t.url, authority);
    await callApi().get('/reports').set(signedForApi(agent)).expect(200);

    const next = agentKeyPair();
    await request(t.url).post('/rotate').set(agentHeaders(agent, authority)).send({ public_jwk: next.publicJwk }).expect(200);
    const rotated: RegisteredAgent = { ...next, uid: agent.uid, agentUrl: agent.agentUrl };

    const withNewKey = await callApi().get('/reports').set(signedForApi(rotated)).expect(200);
    expect(withNewKey.body.agent).toBe(agent.uid);
    // The revoked key is no longer published, so the API no longer finds it.
    const withOldKey = await callApi().get('/reports').set(signedForApi(agent)).expect(401);
    expect(withOldKey.body.error.code).toBe('UNKNOWN_KEY');
  });
});

describe('Internal API directory cache (e2e)', () => {
  let t: TestApp;
  let api: InternalApi;
  let authority: string;

  beforeAll(async () => {
    // The authority's default Cache-Control (max-age=60).
    t = await startTestApp();
    authority = `localhost:${t.port}`;
    api = await startInternalApi(t.url);
  });

  afterAll(async () => {
    await api?.app.close();
    await t?.close();
  });

  it("keeps an agent's directory for the authority's max-age instead of fetching it per request", async () => {
    const agent = await registerAgent(t.url, authority);
    const resolver = api.app.get(KeyResolver, { strict: false });
    if (!(resolver instanceof RemoteKeyResolver)) throw new Error('forRoot should resolve keys remotely');
    const before = resolver.stats();

    for (let i = 0; i < 3; i++) {
      await request(api.url).get('/reports').set(agentHeaders(agent, api.authority)).expect(200);
    }
    const after = resolver.stats();
    expect(after.fetches - before.fetches).toBe(1);
    expect(after.hits - before.hits).toBe(2);
  });

  describe('failed verifications per client IP (failedVerifyPerMinute)', () => {
    it('answers 429 with Retry-After once a client used its budget, and fetches no more directories for it', async () => {
      const t = await startTestApp();
      const api = await startInternalApi(t.url, { failedVerifyPerMinute: 3 });
      try {
        const stranger = agentKeyPair();
        const forged = () => signatureHeaders(stranger, { authority: api.authority, agentUrl: `http://agent-${randomBytes(12).toString('hex')}.localhost:${t.port}` });
        const resolver = api.app.get(KeyResolver) as RemoteKeyResolver;
        for (let i = 0; i < 3; i++) {
          const res = await request(api.url).get('/reports').set(forged()).expect(401);
          expect(res.body.error.code).toBe('UNKNOWN_KEY');
        }
        const fetches = resolver.stats().fetches;
        expect(fetches).toBe(3); // each forged agent cost a directory fetch at the authority
        for (let i = 0; i < 5; i++) {
          const limited = await request(api.url).get('/reports').set(forged()).expect(429);
          expect(limited.body.error.code).toBe('RATE_LIMITED');
          expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        }
        expect(resolver.stats().fetches).toBe(fetches);
      } finally {
        await api.app.close();
        await t.close();
      }
    });
  });

  describe('in-memory nonces with a per-key share (MemoryNonceStore)', () => {
    it("answers a key over its share 429, and that never spends the IP's failure budget for other agents", async () => {
      const t = await startTestApp();
      const api = await startInternalApi(t.url, { nonceStore: new MemoryNonceStore(400, undefined, 2), failedVerifyPerMinute: 3 });
      try {
        const busy = await registerAgent(t.url, `localhost:${t.port}`);
        const other = await registerAgent(t.url, `localhost:${t.port}`);
        const statuses: number[] = [];
        for (let i = 0; i < 6; i++) statuses.push((await request(api.url).get('/reports').set(agentHeaders(busy, api.authority))).status);
        expect(statuses).toEqual([200, 200, 429, 429, 429, 429]);
        await request(api.url).get('/reports').set(agentHeaders(other, api.authority)).expect(200);
      } finally {
        await api.app.close();
        await t.close();
      }
    });
  });

  describe('with nonces in PostgreSQL (nonceStore: { dataSource })', () => {
    it('refuses on one instance a signature already used on another', async () => {
      const t = await startTestApp();
      // Two instances of the API behind one address share the authority's database for nonces.
      const port = await freePort();
      const first = await startInternalApi(t.url, { nonceStore: { dataSource: t.dataSource } }, port);
      const agent = await registerAgent(t.url, `localhost:${t.port}`);
      const headers = signatureHeaders(agent, { authority: first.authority, agentUrl: agent.agentUrl });
      try {
        await request(first.url).get('/reports').set(headers).expect(200);
        await first.app.close();
        const second = await startInternalApi(t.url, { nonceStore: { dataSource: t.dataSource } }, port);
        try {
          const res = await request(second.url).get('/reports').set(headers).expect(401);
          expect(res.body.error.code).toBe('REPLAYED_NONCE');
          // The registration's nonce (at the authority) and the one use at the API.
          const rows = await t.dataSource.query(`SELECT count(*)::int AS n FROM used_nonces WHERE kid = $1`, [agent.kid]);
          expect(rows[0].n).toBe(2);
          // The API needs only used_nonces (README): its outcomes go to its own log, never into an audit_events table.
          const audited = await t.dataSource.query(`SELECT event FROM audit_events WHERE agent_uid = $1 ORDER BY id`, [agent.uid]);
          expect(audited).toEqual([{ event: 'register' }]);
        } finally {
          await second.app.close();
        }
      } finally {
        await t.close();
      }
    });
  });
});

/** The README's "Protect your API" module as written: no exception filter, no pipe of ours. */
@Controller('reports')
class BareReportsController {
  @Get()
  @SignedAgent()
  list(@CurrentAgent() agent: VerifiedAgent): { agent: string } {
    return { agent: agent.uid };
  }
}

async function startBareApi(authorityUrl: string, extra: Partial<VerificationModuleOptions> = {}, extraProviders: Provider[] = []): Promise<InternalApi> {
  const port = await freePort();
  const logs: LogLine[] = [];
  const options: VerificationModuleOptions = {
    authorityUrl,
    acceptedAuthorities: [`localhost:${port}`],
    allowInsecureLocalhost: true,
    allowPrivateNetworks: true,
    ...extra,
  };
  class BareApiModule {}
  Module({ imports: [VerificationModule.forRoot(options)], controllers: [BareReportsController], providers: extraProviders })(BareApiModule);
  const app = await NestFactory.create<NestExpressApplication>(BareApiModule, { logger: capturingLogger(logs), abortOnError: false });
  await app.listen(port, '127.0.0.1');
  return { app, port, url: `http://localhost:${port}`, authority: `localhost:${port}`, logs };
}

/** A nonce store whose database is down. */
class UnreachableNonceStore extends NonceStore {
  async consume(): Promise<boolean> {
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  }
}

describe('Internal API without the authority\'s exception filter (README module as written)', () => {
  let t: TestApp;
  let authority: string;

  beforeAll(async () => {
    t = await startTestApp();
    authority = `localhost:${t.port}`;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('answers refusals with their status and the error body, never 500', async () => {
    const api = await startBareApi(t.url, { failedVerifyPerMinute: 2 });
    try {
      const unsigned = await request(api.url).get('/reports');
      expect({ status: unsigned.status, body: unsigned.body }).toEqual({
        status: 401,
        body: { error: { status: 401, code: 'MISSING_SIGNATURE_INPUT', message: expect.any(String) } },
      });

      const agent = await registerAgent(t.url, authority);
      const headers = agentHeaders(agent, api.authority);
      const ok = await request(api.url).get('/reports').set(headers);
      expect({ status: ok.status, body: ok.body }).toEqual({ status: 200, body: { agent: agent.uid } });

      const replay = await request(api.url).get('/reports').set(headers);
      expect({ status: replay.status, body: replay.body }).toEqual({
        status: 401,
        body: { error: { status: 401, code: 'REPLAYED_NONCE', message: expect.any(String) } },
      });

      // The budget of 2 failures is spent: 429 with Retry-After, as the authority's filter answers it.
      const limited = await request(api.url).get('/reports').set(agentHeaders(agent, api.authority));
      expect({ status: limited.status, body: limited.body }).toEqual({
        status: 429,
        body: { error: { status: 429, code: 'RATE_LIMITED', message: 'too many requests', help: expect.stringMatching(/^retry after \d+ s$/) } },
      });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    } finally {
      await api.app.close();
    }
  });

  it("gives an app's own HttpException filter the status and the message the client is told", async () => {
    @Catch(HttpException)
    class PlainHttpFilter implements ExceptionFilter {
      catch(exception: HttpException, host: ArgumentsHost): void {
        host.switchToHttp().getResponse().status(exception.getStatus()).json({ statusCode: exception.getStatus(), message: exception.message });
      }
    }
    const api = await startBareApi(t.url, {}, [{ provide: APP_FILTER, useClass: PlainHttpFilter }]);
    try {
      const res = await request(api.url).get('/reports');
      expect({ status: res.status, body: res.body }).toEqual({ status: 401, body: { statusCode: 401, message: 'missing signature input' } });
    } finally {
      await api.app.close();
    }
  });

  it('answers 503 DATABASE_UNAVAILABLE with Retry-After when its nonce store cannot be reached', async () => {
    const api = await startBareApi(t.url, { nonceStore: new UnreachableNonceStore() });
    try {
      const agent = await registerAgent(t.url, authority);
      const res = await request(api.url).get('/reports').set(agentHeaders(agent, api.authority));
      expect({ status: res.status, body: res.body, retryAfter: res.headers['retry-after'] }).toEqual({
        status: 503,
        body: { error: { status: 503, code: 'DATABASE_UNAVAILABLE', message: 'database unavailable' } },
        retryAfter: '5',
      });
      // Nest's default filter logs no HttpException: the cause is logged where the error was made, once.
      expect(api.logs.filter((line) => line.context === 'SignedRequestGuard')).toEqual([
        { level: 'warn', context: 'SignedRequestGuard', message: `GET /reports request_id=-: database unavailable: connect ECONNREFUSED 127.0.0.1:5432; logged at most every 10 s` },
      ]);
    } finally {
      await api.app.close();
    }
  });
});
