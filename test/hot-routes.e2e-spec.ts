import request from 'supertest';
import { agentHeaders, agentKeyPair, registerAgent, RegisteredAgent, signatureHeaders } from './factories/agent.factory';
import { responseShape as shape } from './support/response-shape';
import { startTestApp, TestApp } from './support/test-app';

const DIRECTORY = '/.well-known/http-message-signatures-directory';

/**
 * GET /whoami and the directory are served before Express (src/hot-routes);
 * the same routes with a trailing slash or a query go through Express and
 * Nest. Both must answer alike, success and every error, and leave the same
 * audit rows, metrics and request ids.
 */
describe('Hot routes answer exactly as the Express path (e2e)', () => {
  let t: TestApp;
  let authority: string;
  let agent: RegisteredAgent;
  const http = () => request(t.url);
  /** Request ids unique to this run: the database may hold earlier runs' rows. */
  const run = Date.now().toString(36);

  beforeAll(async () => {
    t = await startTestApp({ DIRECTORY_MAX_AGE_SECONDS: '45' });
    authority = `localhost:${t.port}`;
    agent = await registerAgent(t.url, authority);
  });

  afterAll(async () => {
    await t?.close();
  });

  async function auditOf(requestId: string): Promise<Array<{ event: string; outcome: string; error_code: string | null; agent_uid: string | null }>> {
    return t.dataSource.query(`SELECT event, outcome, error_code, agent_uid FROM audit_events WHERE request_id = $1 ORDER BY id`, [requestId]);
  }

  async function requestCount(route: string, status: number): Promise<number> {
    const res = await http().get('/metrics').expect(200);
    const line = res.text.split('\n').find((l) => l.startsWith(`vestauth_http_requests_total{route="${route}",method="GET",status="${status}"}`));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  describe('GET /whoami', () => {
    it('answers a signed request the same, with the same audit row and request counter', async () => {
      const before = await requestCount('/whoami', 200);
      const hot = await http().get('/whoami').set(agentHeaders(agent, authority)).set('X-Request-Id', `hot-whoami-1-${run}`);
      const express = await http().get('/whoami/').set(agentHeaders(agent, authority)).set('X-Request-Id', `express-whoami-1-${run}`);

      expect(hot.status).toBe(200);
      expect(hot.body).toEqual({ uid: agent.uid, kid: agent.kid, public_jwk: agent.publicJwk, well_known_url: `${agent.agentUrl}${DIRECTORY}` });
      expect(shape(hot)).toEqual(shape(express));
      expect(hot.headers['x-request-id']).toBe(`hot-whoami-1-${run}`);
      expect(express.headers['x-request-id']).toBe(`express-whoami-1-${run}`);
      expect(await auditOf(`hot-whoami-1-${run}`)).toEqual([{ event: 'verify', outcome: 'success', error_code: null, agent_uid: agent.uid }]);
      expect(await auditOf(`express-whoami-1-${run}`)).toEqual([{ event: 'verify', outcome: 'success', error_code: null, agent_uid: agent.uid }]);
      expect(await requestCount('/whoami', 200)).toBe(before + 2);
    });

    it.each([
      ['no signature at all', (): Record<string, string> => ({}), 401, 'MISSING_SIGNATURE_INPUT'],
      ['a signature by another key', (): Record<string, string> => ({ ...agentHeaders(agent, authority), Signature: agentHeaders(agent, authority).Signature.replace(/:(.)/, ':A$1') }), 401, 'INVALID_SIGNATURE'],
      ['an expired signature', (): Record<string, string> => agentHeaders(agent, authority, { created: 1_000, expires: 1_300 }), 401, 'EXPIRED_SIGNATURE'],
      ['an unknown agent', (): Record<string, string> => agentHeaders({ ...agent, uid: `agent-${'0'.repeat(24)}`, agentUrl: `http://agent-${'0'.repeat(24)}.${authority}` }, authority), 401, 'UNKNOWN_KEY'],
    ])('refuses %s with the same error, headers and audit row', async (_name, headers, status, code) => {
      const hot = await http().get('/whoami').set(headers()).set('X-Request-Id', `hot-${code}-${run}`);
      const express = await http().get('/whoami/').set(headers()).set('X-Request-Id', `express-${code}-${run}`);

      expect(hot.status).toBe(status);
      expect(hot.body.error).toMatchObject({ status, code });
      expect(shape(hot)).toEqual(shape(express));
      const [hotRow] = await auditOf(`hot-${code}-${run}`);
      const [expressRow] = await auditOf(`express-${code}-${run}`);
      expect(hotRow).toMatchObject({ event: 'verify', outcome: 'failure', error_code: code });
      expect(expressRow).toEqual(hotRow);
    });

    it('refuses a replayed signature on either path, whichever saw it first', async () => {
      const headers = agentHeaders(agent, authority);
      await http().get('/whoami').set(headers).expect(200);
      const again = await http().get('/whoami/').set(headers).expect(401);
      const thrice = await http().get('/whoami').set(headers).expect(401);

      expect(again.body.error.code).toBe('REPLAYED_NONCE');
      expect(shape(thrice)).toEqual(shape(again));
    });

    it('gives a request without a usable X-Request-Id a new one', async () => {
      const res = await http().get('/whoami').set('X-Request-Id', 'not ok!').expect(401);

      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.body.error.code).toBe('MISSING_SIGNATURE_INPUT');
    });

    it('leaves HEAD, POST, queries, bodies and agent hosts to Express, which answers them as before', async () => {
      await http().head('/whoami').set(agentHeaders(agent, authority)).expect(200);
      await http().post('/whoami').set(agentHeaders(agent, authority)).send({ ignored: true }).expect(200);
      await http().get('/whoami?x=1').set(agentHeaders(agent, authority)).expect(200);
      const withBody = await http().get('/whoami').set(agentHeaders(agent, authority)).set('Content-Type', 'application/json').send('{"a":1}');
      expect(withBody.status).toBe(200);
      const onAgentHost = await http().get('/whoami').set('Host', `${agent.uid}.${authority}`).expect(404);
      expect(onAgentHost.body.error.code).toBe('NOT_FOUND');
    });
  });

  describe('GET the key directory', () => {
    it('serves the same directory, headers and counter', async () => {
      const before = await requestCount(DIRECTORY, 200);
      const hot = await http().get(DIRECTORY).set('Host', `${agent.uid}.${authority}`).expect(200);
      const express = await http().get(`${DIRECTORY}?via=express`).set('Host', `${agent.uid}.${authority}`).expect(200);

      expect(hot.body).toEqual({ keys: [agent.publicJwk] });
      expect(hot.headers['content-type']).toBe('application/http-message-signatures-directory+json; charset=utf-8');
      expect(hot.headers['cache-control']).toBe('max-age=45');
      expect(shape(hot)).toEqual(shape(express));
      expect(await requestCount(DIRECTORY, 200)).toBe(before + 2);
    });

    it.each([
      ['an unknown agent', `agent-${'0'.repeat(24)}`, 'UNKNOWN_AGENT'],
      ['the authority host itself', undefined, 'NOT_FOUND'],
    ])('answers %s with the same 404', async (_name, uid, code) => {
      const host = uid ? `${uid}.${authority}` : authority;
      const hot = await http().get(DIRECTORY).set('Host', host).expect(404);
      const express = await http().get(`${DIRECTORY}?via=express`).set('Host', host).expect(404);

      expect(hot.body.error.code).toBe(code);
      expect(shape(hot)).toEqual(shape(express));
    });

    it('sends the security headers the rest of the API sends', async () => {
      const hot = await http().get(DIRECTORY).set('Host', `${agent.uid}.${authority}`).expect(200);
      const health = await http().get('/health/live').expect(200);
      for (const name of ['content-security-policy', 'strict-transport-security', 'x-content-type-options', 'x-frame-options', 'referrer-policy']) {
        expect(hot.headers[name]).toBeDefined();
        expect(hot.headers[name]).toBe(health.headers[name]);
      }
      expect(hot.headers['x-powered-by']).toBeUndefined();
    });
  });
});

describe('With CORS_ORIGINS the hot routes stay off: the cors middleware answers (e2e)', () => {
  let t: TestApp;
  let authority: string;
  let agent: RegisteredAgent;
  const origin = 'https://console.example.com';

  beforeAll(async () => {
    t = await startTestApp({ CORS_ORIGINS: origin });
    authority = `localhost:${t.port}`;
    agent = await registerAgent(t.url, authority);
  });

  afterAll(async () => {
    await t?.close();
  });

  it('allows the configured origin on /whoami and the directory, and says the answer varies by Origin', async () => {
    const allowed = await request(t.url).get('/whoami').set(agentHeaders(agent, authority)).set('Origin', origin).expect(200);
    const withoutOrigin = await request(t.url).get('/whoami').set(agentHeaders(agent, authority)).expect(200);
    const directory = await request(t.url).get(DIRECTORY).set('Host', `${agent.uid}.${authority}`).set('Origin', origin).expect(200);

    expect(allowed.headers['access-control-allow-origin']).toBe(origin);
    expect(directory.headers['access-control-allow-origin']).toBe(origin);
    expect(withoutOrigin.headers.vary).toMatch(/Origin/);
    expect(withoutOrigin.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('does not allow another origin', async () => {
    const res = await request(t.url).get('/whoami').set(agentHeaders(agent, authority)).set('Origin', 'https://evil.example').expect(200);

    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('Behind a trusted proxy the hot routes read X-Forwarded-* exactly as Express does (e2e)', () => {
  let t: TestApp;
  /** What the client signed and the proxy forwards: the public name, not the port the app listens on. */
  const publicAuthority = 'authority.example.com';
  let agent: RegisteredAgent;
  const run = Date.now().toString(36);

  beforeAll(async () => {
    t = await startTestApp({ TRUST_PROXY: 'loopback', PUBLIC_URL: `https://${publicAuthority}` });
    agent = await registerViaProxy(agentKeyPair());
  });

  afterAll(async () => {
    await t?.close();
  });

  const forwarded = { 'X-Forwarded-Host': publicAuthority, 'X-Forwarded-Proto': 'https', 'X-Forwarded-For': '203.0.113.7' };

  async function registerViaProxy(key: ReturnType<typeof agentKeyPair>): Promise<RegisteredAgent> {
    const res = await request(t.url).post('/register').set(forwarded).set(signatureHeaders(key, { authority: publicAuthority, tag: 'null' })).send({ public_jwk: key.publicJwk });
    expect(res.status).toBe(200);
    return { ...key, uid: res.body.uid as string, agentUrl: `https://${res.body.uid as string}.${publicAuthority}` };
  }

  const ipOf = async (requestId: string) =>
    (await t.dataSource.query(`SELECT ip, authority, outcome FROM audit_events WHERE request_id = $1`, [requestId])) as Array<{ ip: string; authority: string; outcome: string }>;

  it('verifies a signature over the forwarded authority on both paths, and records the client address', async () => {
    const hot = await request(t.url).get('/whoami').set(forwarded).set(agentHeaders(agent, publicAuthority)).set('X-Request-Id', `proxy-hot-${run}`);
    const express = await request(t.url).get('/whoami/').set(forwarded).set(agentHeaders(agent, publicAuthority)).set('X-Request-Id', `proxy-express-${run}`);

    expect(hot.status).toBe(200);
    expect(hot.body.well_known_url).toBe(`https://${agent.uid}.${publicAuthority}${DIRECTORY}`);
    expect(shape(hot)).toEqual(shape(express));
    expect(await ipOf(`proxy-hot-${run}`)).toEqual([expect.objectContaining({ ip: '203.0.113.7', outcome: 'success' })]);
    expect(await ipOf(`proxy-express-${run}`)).toEqual([expect.objectContaining({ ip: '203.0.113.7', outcome: 'success' })]);
  });

  it('records the forwarded client address of a registration on the hot route as Express does', async () => {
    const keys = [agentKeyPair(), agentKeyPair()];
    const [hot, express] = await Promise.all(
      (['/register', '/register/'] as const).map((path, i) =>
        request(t.url)
          .post(path)
          .set(forwarded)
          .set(signatureHeaders(keys[i], { authority: publicAuthority, tag: 'null' }))
          .set('X-Request-Id', `proxy-register-${i}-${run}`)
          .send({ public_jwk: keys[i].publicJwk }),
      ),
    );

    expect([hot.status, express.status]).toEqual([200, 200]);
    expect(await ipOf(`proxy-register-0-${run}`)).toEqual([expect.objectContaining({ ip: '203.0.113.7', outcome: 'success' })]);
    expect(await ipOf(`proxy-register-1-${run}`)).toEqual([expect.objectContaining({ ip: '203.0.113.7', outcome: 'success' })]);
  });

  it('serves the directory on the forwarded agent host on both paths', async () => {
    const host = `${agent.uid}.${publicAuthority}`;
    const hot = await request(t.url).get(DIRECTORY).set(forwarded).set('X-Forwarded-Host', host).expect(200);
    const express = await request(t.url).get(`${DIRECTORY}?via=express`).set(forwarded).set('X-Forwarded-Host', host).expect(200);

    expect(hot.body).toEqual({ keys: [agent.publicJwk] });
    expect(shape(hot)).toEqual(shape(express));
  });

  it('refuses, on both paths, a signature for the forwarded host when the proxy is not trusted', async () => {
    const untrusted = await startTestApp({ TRUST_PROXY: 'false', PUBLIC_URL: `https://${publicAuthority}` });
    try {
      const hot = await request(untrusted.url).get('/whoami').set(forwarded).set(agentHeaders(agent, publicAuthority));
      const express = await request(untrusted.url).get('/whoami/').set(forwarded).set(agentHeaders(agent, publicAuthority));

      expect(hot.status).toBe(401);
      expect(shape(hot)).toEqual(shape(express));
    } finally {
      await untrusted.close();
    }
  });
});
