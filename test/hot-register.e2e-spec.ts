import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import request from 'supertest';
import { agentKeyPair, AgentKeyPair, forgedSignatureHeaders, IDENTITY_POINT_X, publicJwkOf, registerAgent, signatureHeaders } from './factories/agent.factory';
import { responseShape as shape } from './support/response-shape';
import { startTestApp, TestApp } from './support/test-app';

const BODY_LIMIT = 4096;

type Reply = request.Response;

/**
 * POST /register in its plain form (JSON body with a Content-Length within
 * the limit) is served before Express (src/hot-routes); `/register/` is the
 * same route through Express, its body parser, Nest's pipe and the
 * registration interceptors. Both must answer alike and leave the same
 * audit rows and metrics; every other form must still reach Express.
 */
describe('POST /register on the hot route answers exactly as the Express path (e2e)', () => {
  let t: TestApp;
  let authority: string;
  const http = () => request(t.url);
  const run = Date.now().toString(36);
  let sequence = 0;

  beforeAll(async () => {
    t = await startTestApp({ BODY_LIMIT_BYTES: String(BODY_LIMIT) });
    authority = `localhost:${t.port}`;
  });

  afterAll(async () => {
    await t?.close();
  });

  /** The same request to `/register` (hot) and `/register/` (Express), each with its own request id. */
  async function both(
    send: (path: string, requestId: string) => Promise<Reply>,
  ): Promise<{ hot: Reply; express: Reply; hotId: string; expressId: string }> {
    sequence += 1;
    const hotId = `hot-register-${sequence}-${run}`;
    const expressId = `express-register-${sequence}-${run}`;
    const hot = await send('/register', hotId);
    const express = await send('/register/', expressId);
    expect(hot.headers['x-request-id']).toBe(hotId);
    expect(express.headers['x-request-id']).toBe(expressId);
    return { hot, express, hotId, expressId };
  }

  /** A signed registration of `key` with `body` sent as is (a string is sent raw as application/json). */
  function signed(key: AgentKeyPair, body: unknown, type = 'application/json') {
    return (path: string, requestId: string) => {
      const req = http().post(path).set(signatureHeaders(key, { authority, tag: 'null' })).set('X-Request-Id', requestId).set('Content-Type', type);
      return req.send(typeof body === 'string' ? body : JSON.stringify(body));
    };
  }

  async function auditOf(requestId: string): Promise<Array<{ event: string; outcome: string; error_code: string | null; agent_uid: string | null; kid: string | null }>> {
    return t.dataSource.query(`SELECT event, outcome, error_code, agent_uid, kid FROM audit_events WHERE request_id = $1 ORDER BY id`, [requestId]);
  }

  async function metric(prefix: string): Promise<number> {
    const res = await http().get('/metrics').expect(200);
    const line = res.text.split('\n').find((l) => l.startsWith(prefix));
    return line ? Number(line.split(' ').pop()) : 0;
  }
  const requests = (status: number) => metric(`vestauth_http_requests_total{route="/register",method="POST",status="${status}"}`);
  const timed = (outcome: string) => metric(`vestauth_registration_duration_seconds_count{operation="register",outcome="${outcome}"}`);

  it('registers a new key the same, with the same audit row, request counter and timing', async () => {
    const [before, beforeTimed] = [await requests(200), await timed('success')];
    const keys = [agentKeyPair(), agentKeyPair()];
    let i = 0;
    const { hot, express, hotId, expressId } = await both((path, id) => {
      const key = keys[i++];
      return signed(key, { public_jwk: { ...key.publicJwk, alg: 'EdDSA' } })(path, id);
    });

    expect(hot.status).toBe(200);
    expect(hot.body).toEqual({ uid: expect.stringMatching(/^agent-[0-9a-f]{24}$/), kid: keys[0].kid, public_jwk: keys[0].publicJwk, is_new: true });
    expect(express.body).toEqual({ uid: expect.stringMatching(/^agent-[0-9a-f]{24}$/), kid: keys[1].kid, public_jwk: keys[1].publicJwk, is_new: true });
    expect(shape(hot).headers).toEqual(shape(express).headers);
    expect(hot.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(await auditOf(hotId)).toEqual([{ event: 'register', outcome: 'success', error_code: null, agent_uid: hot.body.uid, kid: keys[0].kid }]);
    expect(await auditOf(expressId)).toEqual([{ event: 'register', outcome: 'success', error_code: null, agent_uid: express.body.uid, kid: keys[1].kid }]);
    expect(await requests(200)).toBe(before + 2);
    expect(await timed('success')).toBe(beforeTimed + 2);
  });

  it('returns the same agent for a known key on both paths (is_new: false)', async () => {
    const agent = await registerAgent(t.url, authority);
    const { hot, express } = await both(signed(agent, { public_jwk: agent.publicJwk }));

    expect(hot.body).toEqual({ uid: agent.uid, kid: agent.kid, public_jwk: agent.publicJwk, is_new: false });
    expect(shape(hot)).toEqual(shape(express));
  });

  it('reads a body that starts with a byte order mark as body-parser does', async () => {
    const keys = [agentKeyPair(), agentKeyPair()];
    let i = 0;
    const { hot, express } = await both((path, id) => {
      const key = keys[i++];
      return signed(key, `\uFEFF${JSON.stringify({ public_jwk: key.publicJwk })}`)(path, id);
    });

    expect(hot.status).toBe(200);
    expect(express.status).toBe(200);
    expect(hot.body.kid).toBe(keys[0].kid);
  });

  it.each([
    ['a truncated JSON body', '{"public_jwk":', 400, 'INVALID_JSON'],
    ['a JSON string instead of an object', '"public_jwk"', 400, 'INVALID_JSON'],
    ['whitespace only', ' \n ', 400, 'INVALID_JSON'],
  ])('refuses %s as the body parser does, with the same audit row and counters', async (_name, body, status, code) => {
    const [before400, beforeTimed] = [await requests(400), await timed('failure')];
    const key = agentKeyPair();
    const { hot, express, hotId, expressId } = await both(signed(key, body));

    expect(hot.status).toBe(status);
    expect(hot.body.error).toMatchObject({ status, code });
    expect(shape(hot)).toEqual(shape(express));
    expect(await auditOf(hotId)).toEqual([{ event: 'register', outcome: 'failure', error_code: code, agent_uid: null, kid: null }]);
    expect(await auditOf(expressId)).toEqual(await auditOf(hotId));
    expect(await requests(400)).toBe(before400 + 2);
    expect(await timed('failure')).toBe(beforeTimed + 2);
  });

  it('refuses a registration forged for the identity point (no private key) alike: 400 INVALID_PUBLIC_JWK, audited', async () => {
    const [before, beforeTimed] = [await requests(400), await timed('failure')];
    const { hot, express, hotId, expressId } = await both((path, id) =>
      http()
        .post(path)
        .set(forgedSignatureHeaders(IDENTITY_POINT_X, { authority, tag: 'null' }))
        .set('X-Request-Id', id)
        .send({ public_jwk: publicJwkOf(IDENTITY_POINT_X) }),
    );

    expect(hot.status).toBe(400);
    expect(hot.body.error).toMatchObject({ status: 400, code: 'INVALID_PUBLIC_JWK' });
    expect(shape(hot)).toEqual(shape(express));
    expect(await auditOf(hotId)).toEqual([{ event: 'register', outcome: 'failure', error_code: 'INVALID_PUBLIC_JWK', agent_uid: null, kid: null }]);
    expect(await auditOf(expressId)).toEqual(await auditOf(hotId));
    expect(await requests(400)).toBe(before + 2);
    expect(await timed('failure')).toBe(beforeTimed + 2);
  });

  it.each([
    ['a lone byte order mark (an empty body: {})', () => '\uFEFF', 400, 'VALIDATION_FAILED'],
    ['no public_jwk', () => ({ key: 'x' }), 400, 'VALIDATION_FAILED'],
    ['public_jwk not an object', () => ({ public_jwk: 'x' }), 400, 'INVALID_PUBLIC_JWK'],
    ['private key material', (key: AgentKeyPair) => ({ public_jwk: { ...key.publicJwk, d: 'A'.repeat(43) } }), 400, 'PRIVATE_KEY_MATERIAL'],
    ['an RSA key', (key: AgentKeyPair) => ({ public_jwk: { ...key.publicJwk, kty: 'RSA' } }), 400, 'INVALID_PUBLIC_JWK'],
    ['a kid that is not the thumbprint', (key: AgentKeyPair) => ({ public_jwk: { ...key.publicJwk, kid: 'not-it' } }), 400, 'KEY_ID_MISMATCH'],
    ['a body nested too deep', () => ({ public_jwk: JSON.parse(`${'['.repeat(40)}${']'.repeat(40)}`) as unknown }), 400, 'VALIDATION_FAILED'],
  ])('refuses %s with the same error, audit row and counters', async (_name, body, status, code) => {
    const [before, beforeTimed] = [await requests(status), await timed('failure')];
    const key = agentKeyPair();
    const payload = body(key);
    const { hot, express, hotId, expressId } = await both(signed(key, payload));

    expect(hot.status).toBe(status);
    expect(hot.body.error).toMatchObject({ status, code });
    expect(shape(hot)).toEqual(shape(express));
    const [hotRow] = await auditOf(hotId);
    expect(hotRow).toMatchObject({ event: 'register', outcome: 'failure', error_code: code });
    expect(await auditOf(expressId)).toEqual([hotRow]);
    expect(await requests(status)).toBe(before + 2);
    expect(await timed('failure')).toBe(beforeTimed + 2);
  });

  it.each([
    ['no signature', (_key: AgentKeyPair) => ({}), 401, 'MISSING_SIGNATURE_INPUT'],
    ['a signature by another key', () => signatureHeaders(agentKeyPair(), { authority, tag: 'null' }), 400, 'KEY_ID_MISMATCH'],
    [
      'a forged signature for the key',
      (key: AgentKeyPair) => signatureHeaders(key, { authority, tag: 'null', signingKey: agentKeyPair().privateKey }),
      401,
      'INVALID_SIGNATURE',
    ],
    ['an expired signature', (key: AgentKeyPair) => signatureHeaders(key, { authority, tag: 'null', created: 1_000, expires: 1_300 }), 401, 'EXPIRED_SIGNATURE'],
  ])('refuses %s with the same error and audit row (subject: the key)', async (_name, headers, status, code) => {
    const keys = [agentKeyPair(), agentKeyPair()];
    let i = 0;
    const { hot, express, hotId, expressId } = await both((path, id) => {
      const key = keys[i++];
      return http().post(path).set(headers(key)).set('X-Request-Id', id).send({ public_jwk: key.publicJwk });
    });

    expect(hot.status).toBe(status);
    expect(hot.body.error).toMatchObject({ status, code });
    expect(shape(hot)).toEqual(shape(express));
    expect(await auditOf(hotId)).toEqual([{ event: 'register', outcome: 'failure', error_code: code, agent_uid: null, kid: keys[0].kid }]);
    expect(await auditOf(expressId)).toEqual([{ event: 'register', outcome: 'failure', error_code: code, agent_uid: null, kid: keys[1].kid }]);
  });

  it('refuses a replayed registration on either path, whichever saw it first', async () => {
    const key = agentKeyPair();
    const headers = signatureHeaders(key, { authority, tag: 'null' });
    await http().post('/register').set(headers).send({ public_jwk: key.publicJwk }).expect(200);
    const again = await http().post('/register/').set(headers).send({ public_jwk: key.publicJwk }).expect(401);
    const thrice = await http().post('/register').set(headers).send({ public_jwk: key.publicJwk }).expect(401);

    expect(again.body.error.code).toBe('REPLAYED_NONCE');
    expect(shape(thrice)).toEqual(shape(again));
  });

  it('covers the exact bytes received with content-digest when the signature covers it', async () => {
    const key = agentKeyPair();
    const body = JSON.stringify({ public_jwk: key.publicJwk });
    const digest = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
    const headers = signatureHeaders(key, { authority, tag: 'null', extra: [['content-digest', digest]] });
    const ok = await http().post('/register').set(headers).set('Content-Digest', digest).set('Content-Type', 'application/json').send(body);
    expect(ok.status).toBe(200);

    const other = agentKeyPair();
    const tampered = signatureHeaders(other, { authority, tag: 'null', extra: [['content-digest', digest]] });
    const refused = await http().post('/register').set(tampered).set('Content-Digest', digest).send({ public_jwk: other.publicJwk });
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('INVALID_CONTENT_DIGEST');
  });

  it('leaves every other form to Express, which answers it as before', async () => {
    const key = agentKeyPair();
    const body = JSON.stringify({ public_jwk: key.publicJwk });
    const post = () => http().post('/register').set(signatureHeaders(key, { authority, tag: 'null' }));

    const latin1 = await post().set('Content-Type', 'application/json; charset=latin1').send(body);
    expect([latin1.status, latin1.body.error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    expect(await auditOf(latin1.headers['x-request-id'])).toEqual([{ event: 'register', outcome: 'failure', error_code: 'UNSUPPORTED_MEDIA_TYPE', agent_uid: null, kid: null }]);
    const tooLarge = await post().set('Content-Type', 'application/json').send(JSON.stringify({ public_jwk: key.publicJwk, pad: 'x'.repeat(BODY_LIMIT) }));
    expect([tooLarge.status, tooLarge.body.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(await auditOf(tooLarge.headers['x-request-id'])).toEqual([{ event: 'register', outcome: 'failure', error_code: 'PAYLOAD_TOO_LARGE', agent_uid: null, kid: null }]);
    // A body no parser reads is refused for its type, not validated as {} (audited like the parser's refusals).
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream']) {
      const unread = await post().set('Content-Type', type).send(body);
      expect([unread.status, unread.body.error]).toEqual([415, { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'unsupported content type' }]);
      expect(await auditOf(unread.headers['x-request-id'])).toEqual([{ event: 'register', outcome: 'failure', error_code: 'UNSUPPORTED_MEDIA_TYPE', agent_uid: null, kid: null }]);
    }
    const rotateUnread = await http().post('/rotate').set(signatureHeaders(key, { authority, tag: 'null' })).set('Content-Type', 'text/plain').send(body);
    expect([rotateUnread.status, rotateUnread.body.error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    // No body at all is still a validation failure.
    const empty = await post();
    expect([empty.status, empty.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    const onAgentHost = await post().set('Host', `agent-${'0'.repeat(24)}.${authority}`).send(body);
    expect([onAgentHost.status, onAgentHost.body.error.code]).toEqual([404, 'NOT_FOUND']);
    // application/*+json and a query string: Express parses them, the registration goes through.
    const vendorJson = await post().set('Content-Type', 'application/vnd.api+json').send(body);
    expect(vendorJson.status).toBe(200);
    expect(vendorJson.body.kid).toBe(key.kid);
    const withQuery = await http().post('/register?x=1').set(signatureHeaders(key, { authority, tag: 'null' })).send({ public_jwk: key.publicJwk });
    expect(withQuery.body).toMatchObject({ kid: key.kid, is_new: false });
  });

  it('survives a client that goes away in the middle of the body, and serves the next request', async () => {
    await new Promise<void>((resolve, reject) => {
      const socket = connect(t.port, '127.0.0.1', () => {
        socket.write(`POST /register HTTP/1.1\r\nHost: ${authority}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"public_jwk":`);
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 100);
      });
      socket.on('error', reject);
    });
    const agent = await registerAgent(t.url, authority);
    expect(agent.uid).toMatch(/^agent-[0-9a-f]{24}$/);
  });
});
