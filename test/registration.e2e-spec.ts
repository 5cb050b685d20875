import request from 'supertest';
import { agentHeaders, agentKeyPair, registerAgent, signatureHeaders } from './factories/agent.factory';
import { startTestApp, TestApp } from './support/test-app';

describe('Registration (e2e)', () => {
  let t: TestApp;
  let authority: string;
  const http = () => request(t.url);

  beforeAll(async () => {
    t = await startTestApp();
    authority = `localhost:${t.port}`;
  });

  afterAll(async () => {
    await t?.close();
  });

  const auditRows = (kid: string) =>
    t.dataSource.query(`SELECT event, outcome, error_code, agent_uid, kid, detail FROM audit_events WHERE kid = $1 ORDER BY id`, [kid]);

  describe('POST /register', () => {
    it('registers a new agent with proof-of-possession and stores the canonical key', async () => {
      const key = agentKeyPair();
      const res = await http()
        .post('/register')
        .set(signatureHeaders(key, { authority, tag: 'null' }))
        .send({ public_jwk: { ...key.publicJwk, alg: 'EdDSA', use: 'sig' } })
        .expect(200);
      expect(res.body).toEqual({ uid: expect.stringMatching(/^agent-[0-9a-f]{24}$/), kid: key.kid, public_jwk: key.publicJwk, is_new: true });
      const [row] = await t.dataSource.query(`SELECT agent_uid, jwk, status FROM public_keys WHERE kid = $1`, [key.kid]);
      expect(row).toEqual({ agent_uid: res.body.uid, jwk: key.publicJwk, status: 'active' });
      expect(await auditRows(key.kid)).toEqual([
        { event: 'register', outcome: 'success', error_code: null, agent_uid: res.body.uid, kid: key.kid, detail: { is_new: true } },
      ]);
    });

    it('is idempotent: the same key returns the same agent with is_new:false', async () => {
      const agent = await registerAgent(t.url, authority);
      const res = await http().post('/register').set(signatureHeaders(agent, { authority, tag: 'null' })).send({ public_jwk: agent.publicJwk }).expect(200);
      expect(res.body).toMatchObject({ uid: agent.uid, kid: agent.kid, is_new: false });
    });

    it('30 concurrent registrations of one key make exactly one agent', async () => {
      const key = agentKeyPair();
      const responses = await Promise.all(
        Array.from({ length: 30 }, () =>
          http().post('/register').set(signatureHeaders(key, { authority, tag: 'null' })).send({ public_jwk: key.publicJwk }),
        ),
      );
      expect(responses.map((r) => r.body.error?.code ?? r.status)).toEqual(Array(30).fill(200));
      const uids = new Set(responses.map((r) => r.body.uid));
      expect(uids.size).toBe(1);
      expect(responses.filter((r) => r.body.is_new === true)).toHaveLength(1);
      const [{ count }] = await t.dataSource.query(`SELECT count(*)::int AS count FROM public_keys WHERE kid = $1`, [key.kid]);
      expect(count).toBe(1);
    });

    it('refuses private key material with 400 PRIVATE_KEY_MATERIAL and stores nothing of it', async () => {
      const key = agentKeyPair();
      const d = key.privateKey.export({ format: 'jwk' }).d as string;
      const res = await http()
        .post('/register')
        .set(signatureHeaders(key, { authority, tag: 'null' }))
        .send({ public_jwk: { ...key.publicJwk, d } })
        .expect(400);
      expect(res.body.error).toMatchObject({ status: 400, code: 'PRIVATE_KEY_MATERIAL' });
      expect(JSON.stringify(res.body)).not.toContain(d);
      const [{ keys }] = await t.dataSource.query(`SELECT count(*)::int AS keys FROM public_keys WHERE kid = $1`, [key.kid]);
      expect(keys).toBe(0);
      const [{ leaks }] = await t.dataSource.query(
        `SELECT (SELECT count(*) FROM public_keys WHERE jwk::text LIKE '%' || $1 || '%') + (SELECT count(*) FROM audit_events WHERE detail::text LIKE '%' || $1 || '%') AS leaks`,
        [d],
      );
      expect(Number(leaks)).toBe(0);
      const failures = await t.dataSource.query(`SELECT error_code FROM audit_events WHERE event = 'register' AND error_code = 'PRIVATE_KEY_MATERIAL' AND request_id = $1`, [res.headers['x-request-id']]);
      expect(failures).toHaveLength(1);
    });

    it.each([
      ['an RSA key', { kty: 'RSA', n: 'AQAB', e: 'AQAB' }],
      ['another curve', { kty: 'OKP', crv: 'X25519', x: 'A'.repeat(43) }],
      ['x of the wrong length', { kty: 'OKP', crv: 'Ed25519', x: 'AAAA' }],
      ['x that is not a string', { kty: 'OKP', crv: 'Ed25519', x: 12 }],
    ])('refuses %s with 400 INVALID_PUBLIC_JWK', async (_name, jwk) => {
      const key = agentKeyPair();
      const res = await http().post('/register').set(signatureHeaders(key, { authority, tag: 'null' })).send({ public_jwk: jwk }).expect(400);
      expect(res.body.error.code).toBe('INVALID_PUBLIC_JWK');
    });

    it('refuses a body without public_jwk with 400 VALIDATION_FAILED', async () => {
      const res = await http().post('/register').send({}).expect(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    });

    it('refuses a body kid that is not the thumbprint with 400 KEY_ID_MISMATCH', async () => {
      const key = agentKeyPair();
      const res = await http()
        .post('/register')
        .set(signatureHeaders(key, { authority, tag: 'null' }))
        .send({ public_jwk: { ...key.publicJwk, kid: 'not-the-thumbprint' } })
        .expect(400);
      expect(res.body.error.code).toBe('KEY_ID_MISMATCH');
    });

    it('refuses a signature whose keyid is not the registered key (KEY_ID_MISMATCH)', async () => {
      const key = agentKeyPair();
      const other = agentKeyPair();
      const res = await http().post('/register').set(signatureHeaders(other, { authority, tag: 'null' })).send({ public_jwk: key.publicJwk }).expect(400);
      expect(res.body.error.code).toBe('KEY_ID_MISMATCH');
    });

    it('refuses a signature made by another key (401 INVALID_SIGNATURE): no proof of possession', async () => {
      const key = agentKeyPair();
      const thief = agentKeyPair();
      const res = await http()
        .post('/register')
        .set(signatureHeaders(key, { authority, tag: 'null', signingKey: thief.privateKey }))
        .send({ public_jwk: key.publicJwk })
        .expect(401);
      expect(res.body.error.code).toBe('INVALID_SIGNATURE');
    });

    it('refuses an unsigned registration (401 MISSING_SIGNATURE_INPUT)', async () => {
      const key = agentKeyPair();
      const res = await http().post('/register').send({ public_jwk: key.publicJwk }).expect(401);
      expect(res.body.error.code).toBe('MISSING_SIGNATURE_INPUT');
    });

    it.each([
      ['expired', { created: Math.floor(Date.now() / 1000) - 400, expires: Math.floor(Date.now() / 1000) - 100 }, 'EXPIRED_SIGNATURE'],
      ['from the future', { created: Math.floor(Date.now() / 1000) + 120 }, 'SIGNATURE_NOT_YET_VALID'],
      ['too long-lived', { expires: Math.floor(Date.now() / 1000) + 3600 }, 'SIGNATURE_TOO_LONG_LIVED'],
      ['without nonce', { nonce: null }, 'MISSING_NONCE'],
      ['for another host', { authority: 'evil.example' }, 'WRONG_AUTHORITY'],
    ])('refuses a signature %s', async (_name, overrides, code) => {
      const key = agentKeyPair();
      const res = await http()
        .post('/register')
        .set('Host', (overrides as { authority?: string }).authority ?? authority)
        .set(signatureHeaders(key, { authority, tag: 'null', ...overrides }))
        .send({ public_jwk: key.publicJwk })
        .expect(401);
      expect(res.body.error.code).toBe(code);
      expect(await auditRows(key.kid)).toEqual([expect.objectContaining({ event: 'register', outcome: 'failure', error_code: code })]);
    });

    it('refuses the same signed request twice (401 REPLAYED_NONCE)', async () => {
      const key = agentKeyPair();
      const headers = signatureHeaders(key, { authority, tag: 'null' });
      await http().post('/register').set(headers).send({ public_jwk: key.publicJwk }).expect(200);
      const res = await http().post('/register').set(headers).send({ public_jwk: key.publicJwk }).expect(401);
      expect(res.body.error.code).toBe('REPLAYED_NONCE');
    });
  });

  describe('POST /rotate', () => {
    it('replaces the key in one step: the new key is published, the old one revoked and refused', async () => {
      const agent = await registerAgent(t.url, authority);
      const next = agentKeyPair();
      const res = await http().post('/rotate').set(agentHeaders(agent, authority)).send({ public_jwk: next.publicJwk }).expect(200);
      expect(res.body).toEqual({ uid: agent.uid, kid: next.kid, public_jwk: next.publicJwk });

      const keys = await t.dataSource.query(`SELECT kid, status, revoked_reason, revoked_at IS NOT NULL AS revoked FROM public_keys WHERE agent_uid = $1 ORDER BY created_at`, [agent.uid]);
      expect(keys).toEqual([
        { kid: agent.kid, status: 'revoked', revoked_reason: 'rotated', revoked: true },
        { kid: next.kid, status: 'active', revoked_reason: null, revoked: false },
      ]);
      const dir = await http().get('/.well-known/http-message-signatures-directory').set('Host', `${agent.uid}.${authority}`).expect(200);
      expect(dir.body).toEqual({ keys: [next.publicJwk] });

      const again = await http().post('/rotate').set(agentHeaders(agent, authority)).send({ public_jwk: agentKeyPair().publicJwk }).expect(401);
      expect(again.body.error.code).toBe('REVOKED_KEY');
      const rotated = await auditRows(next.kid);
      expect(rotated).toEqual([expect.objectContaining({ event: 'rotate', outcome: 'success', agent_uid: agent.uid, detail: { old_kid: agent.kid, new_kid: next.kid } })]);

      const reRegister = await http().post('/register').set(signatureHeaders(agent, { authority, tag: 'null' })).send({ public_jwk: agent.publicJwk }).expect(409);
      expect(reRegister.body.error.code).toBe('KEY_CONFLICT');
    });

    it('refuses a new key that belongs to another agent (409 KEY_CONFLICT) and changes nothing', async () => {
      const agent = await registerAgent(t.url, authority);
      const other = await registerAgent(t.url, authority);
      const res = await http().post('/rotate').set(agentHeaders(agent, authority)).send({ public_jwk: other.publicJwk }).expect(409);
      expect(res.body.error.code).toBe('KEY_CONFLICT');
      const [row] = await t.dataSource.query(`SELECT status FROM public_keys WHERE kid = $1`, [agent.kid]);
      expect(row.status).toBe('active');
      const failures = await t.dataSource.query(`SELECT agent_uid FROM audit_events WHERE event = 'rotate' AND error_code = 'KEY_CONFLICT' AND request_id = $1`, [res.headers['x-request-id']]);
      expect(failures).toEqual([{ agent_uid: agent.uid }]);
    });

    it('concurrent rotations of one agent leave exactly one active key', async () => {
      const agent = await registerAgent(t.url, authority);
      const candidates = Array.from({ length: 8 }, () => agentKeyPair());
      const responses = await Promise.all(
        candidates.map((c) => http().post('/rotate').set(agentHeaders(agent, authority)).send({ public_jwk: c.publicJwk })),
      );
      const ok = responses.filter((r) => r.status === 200);
      expect(ok).toHaveLength(1);
      expect(responses.filter((r) => r.status !== 200).map((r) => r.body.error.code)).toEqual(Array(7).fill('REVOKED_KEY'));
      const active = await t.dataSource.query(`SELECT kid FROM public_keys WHERE agent_uid = $1 AND status = 'active'`, [agent.uid]);
      expect(active).toEqual([{ kid: ok[0].body.kid }]);
    });

    it('requires Signature-Agent (401 MISSING_SIGNATURE_AGENT)', async () => {
      const agent = await registerAgent(t.url, authority);
      const res = await http().post('/rotate').set(agentHeaders(agent, authority, { agentUrl: undefined })).send({ public_jwk: agentKeyPair().publicJwk }).expect(401);
      expect(res.body.error.code).toBe('MISSING_SIGNATURE_AGENT');
    });

    it('refuses private key material in the new key', async () => {
      const agent = await registerAgent(t.url, authority);
      const next = agentKeyPair();
      const res = await http()
        .post('/rotate')
        .set(agentHeaders(agent, authority))
        .send({ public_jwk: { ...next.publicJwk, d: next.privateKey.export({ format: 'jwk' }).d } })
        .expect(400);
      expect(res.body.error.code).toBe('PRIVATE_KEY_MATERIAL');
    });
  });
});
