import { createPublicKey, randomBytes, verify } from 'node:crypto';
import request from 'supertest';
import { NO_REQUEST } from '../src/audit/audit-entry';
import { AgentRepository } from '../src/agents/agent.repository';
import { AgentAdminService } from '../src/registration/agent-admin.service';
import { agentHeaders, agentKeyPair, forgedSignatureHeaders, IDENTITY_POINT_X, publicJwkOf, registerAgent, signatureHeaders } from './factories/agent.factory';
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
  const auditOf = (res: request.Response) =>
    t.dataSource.query(`SELECT event, outcome, error_code, agent_uid, kid, path FROM audit_events WHERE request_id = $1 ORDER BY id`, [res.headers['x-request-id']]);
  async function timedCount(operation: string, outcome: string): Promise<number> {
    const res = await http().get('/metrics').expect(200);
    const line = res.text.split('\n').find((l) => l.startsWith(`vestauth_registration_duration_seconds_count{operation="${operation}",outcome="${outcome}"}`));
    return line ? Number(line.split(' ').pop()) : 0;
  }

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

    // An admin's disable commits while the rotation, authenticated already, waits for the agent's row lock.
    const disabledMidRotation = 'refuses a rotation whose agent was disabled after its request was authenticated (403 AGENT_DISABLED), changing nothing';
    if (process.env.TEST_DATABASE_KIND === 'pglite') {
      // The embedded PGlite is one session that the app's pool (size 1) and
      // any query runner share: a second, concurrent transaction holding the
      // row lock cannot exist there. So on PGlite only, the disable runs in
      // the rotation's own transaction just before it takes the lock; on
      // PostgreSQL the test below commits it from a real concurrent session.
      it(`${disabledMidRotation} [single session: disable simulated before the lock]`, async () => {
        const agent = await registerAgent(t.url, authority);
        const agents = t.app.get(AgentRepository);
        const lock = agents.lockByUid.bind(agents);
        const spy = jest.spyOn(agents, 'lockByUid').mockImplementationOnce(async (manager, uid) => {
          await manager.query(`UPDATE agents SET status = 'disabled', disabled_at = now() WHERE uid = $1`, [uid]);
          return lock(manager, uid);
        });
        try {
          const res = await http().post('/rotate').set(agentHeaders(agent, authority)).send({ public_jwk: agentKeyPair().publicJwk }).expect(403);
          expect(res.body.error.code).toBe('AGENT_DISABLED');
          expect(spy).toHaveBeenCalledTimes(1);
        } finally {
          spy.mockRestore();
        }
        const keys = await t.dataSource.query(`SELECT kid, status FROM public_keys WHERE agent_uid = $1`, [agent.uid]);
        expect(keys).toEqual([{ kid: agent.kid, status: 'active' }]);
      });
    } else {
      it(disabledMidRotation, async () => {
        const agent = await registerAgent(t.url, authority);
        const admin = t.dataSource.createQueryRunner();
        await admin.connect();
        try {
          await admin.startTransaction();
          await admin.query(`SELECT uid FROM agents WHERE uid = $1 FOR UPDATE`, [agent.uid]);
          const [{ pid }]: Array<{ pid: number }> = await admin.query('SELECT pg_backend_pid() AS pid');

          let answered = false;
          const rotation = http()
            .post('/rotate')
            .set(agentHeaders(agent, authority))
            .send({ public_jwk: agentKeyPair().publicJwk })
            .then((res) => ((answered = true), res));
          // The rotation has authenticated and now waits for the admin's row lock.
          await waitUntil(async () => {
            const waiting: unknown[] = await t.dataSource.query(`SELECT 1 FROM pg_locks WHERE NOT granted AND $1 = ANY(pg_blocking_pids(pid))`, [pid]);
            return waiting.length > 0 || answered;
          });
          expect(answered).toBe(false);

          await admin.query(`UPDATE agents SET status = 'disabled', disabled_at = now() WHERE uid = $1`, [agent.uid]);
          await admin.commitTransaction();

          const res = await rotation;
          expect(res.status).toBe(403);
          expect(res.body.error.code).toBe('AGENT_DISABLED');
        } finally {
          if (admin.isTransactionActive) await admin.rollbackTransaction().catch(() => undefined);
          await admin.release();
        }
        const keys = await t.dataSource.query(`SELECT kid, status FROM public_keys WHERE agent_uid = $1`, [agent.uid]);
        expect(keys).toEqual([{ kid: agent.kid, status: 'active' }]);
      });
    }

    it('refuses a rotation with the headers of a request refused on an admin route: that nonce was spent', async () => {
      const agent = await registerAgent(t.url, authority);
      const headers = agentHeaders(agent, authority);
      const forbidden = await http().get('/admin/agents').set(headers).expect(403);
      expect(forbidden.body.error.code).toBe('FORBIDDEN');

      const reused = await http().post('/rotate').set(headers).send({ public_jwk: agentKeyPair().publicJwk }).expect(401);
      expect(reused.body.error.code).toBe('REPLAYED_NONCE');
      const keys = await t.dataSource.query(`SELECT kid, status FROM public_keys WHERE agent_uid = $1`, [agent.uid]);
      expect(keys).toEqual([{ kid: agent.kid, status: 'active' }]);
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
  describe('Ed25519 keys anyone can sign for', () => {
    // 32 bytes: y little-endian, x's sign in the top bit; p = 2^255 - 19.
    const weakKeys: Array<[string, string]> = [
      ['the identity with the sign bit', 'AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIA'],
      ['the point of order 2 (y = p - 1)', '7P_______________________________________38'],
      ['a point of order 8 (y = c)', 'JuiVj8KyJ7BFw_SJ8u-Y8NXfrAXTxjM5sTgCiG1T_AU'],
      ['the identity encoded with y = p + 1 (non-canonical)', '7v_______________________________________38'],
    ];

    it('refuses a registration of the identity point forged without any private key (400 INVALID_PUBLIC_JWK), audited, nothing stored', async () => {
      const jwk = publicJwkOf(IDENTITY_POINT_X);
      const headers = forgedSignatureHeaders(IDENTITY_POINT_X, { authority, tag: 'null' });
      // The forgery itself is good: OpenSSL accepts it for any message, so only the key check stops it.
      const forged = Buffer.from(/:(.*):/.exec(headers.Signature)![1], 'base64');
      expect(verify(null, Buffer.from('any message'), createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: IDENTITY_POINT_X }, format: 'jwk' }), forged)).toBe(true);

      const res = await http().post('/register').set(headers).send({ public_jwk: jwk }).expect(400);

      expect(res.body.error).toMatchObject({ status: 400, code: 'INVALID_PUBLIC_JWK', message: expect.stringContaining('small-order') });
      const [{ keys }] = await t.dataSource.query(`SELECT count(*)::int AS keys FROM public_keys WHERE kid = $1`, [jwk.kid]);
      expect(keys).toBe(0);
      expect(await auditOf(res)).toEqual([{ event: 'register', outcome: 'failure', error_code: 'INVALID_PUBLIC_JWK', agent_uid: null, kid: null, path: '/register' }]);
    });

    it.each(weakKeys)('refuses %s with 400 INVALID_PUBLIC_JWK', async (_name, x) => {
      const res = await http().post('/register').set(forgedSignatureHeaders(x, { authority, tag: 'null' })).send({ public_jwk: publicJwkOf(x) }).expect(400);

      expect(res.body.error.code).toBe('INVALID_PUBLIC_JWK');
      expect(await auditOf(res)).toEqual([expect.objectContaining({ event: 'register', outcome: 'failure', error_code: 'INVALID_PUBLIC_JWK' })]);
    });

    it('never verifies such a key stored before the check (a database of an earlier version): 401 UNKNOWN_KEY', async () => {
      const jwk = publicJwkOf(IDENTITY_POINT_X);
      const uid = `agent-${randomBytes(12).toString('hex')}`;
      await t.dataSource.query(`INSERT INTO agents (uid) VALUES ($1)`, [uid]);
      await t.dataSource.query(`INSERT INTO public_keys (kid, agent_uid, jwk) VALUES ($1, $2, $3)`, [jwk.kid, uid, JSON.stringify(jwk)]);
      try {
        for (const path of ['/whoami', '/whoami/']) {
          const headers = forgedSignatureHeaders(IDENTITY_POINT_X, { authority, agentUrl: `http://${uid}.${authority}` });
          const res = await http().get(path).set(headers).expect(401);
          expect(res.body.error.code).toBe('UNKNOWN_KEY');
          const rows: Array<{ error_code: string; agent_uid: string; detail: Record<string, unknown> }> = await t.dataSource.query(
            `SELECT error_code, agent_uid, detail FROM audit_events WHERE request_id = $1`,
            [res.headers['x-request-id']],
          );
          expect(rows).toEqual([expect.objectContaining({ error_code: 'UNKNOWN_KEY', agent_uid: uid, detail: expect.objectContaining({ reason: 'weak_key' }) })]);
        }
      } finally {
        // Its kid is fixed (the identity point's thumbprint): the other tests, and a rerun on this database, need it absent.
        await t.dataSource.query(`DELETE FROM public_keys WHERE kid = $1`, [jwk.kid]);
      }
    });

    it('refuses to rotate to the identity point (400 INVALID_PUBLIC_JWK, audited as rotate); the current key stays', async () => {
      const agent = await registerAgent(t.url, authority);
      const res = await http().post('/rotate').set(agentHeaders(agent, authority)).send({ public_jwk: publicJwkOf(IDENTITY_POINT_X) }).expect(400);

      expect(res.body.error.code).toBe('INVALID_PUBLIC_JWK');
      expect(await auditOf(res)).toEqual([{ event: 'rotate', outcome: 'failure', error_code: 'INVALID_PUBLIC_JWK', agent_uid: null, kid: null, path: '/rotate' }]);
      const [row] = await t.dataSource.query(`SELECT status FROM public_keys WHERE kid = $1`, [agent.kid]);
      expect(row.status).toBe('active');
    });
  });

  describe('audit and timing of every form of the rotate route', () => {
    it.each(['/rotate/', '/ROTATE', '/Rotate/'])('records a refused rotation on %s as a rotate', async (path) => {
      const agent = await registerAgent(t.url, authority);
      const next = agentKeyPair();
      const before = await timedCount('rotate', 'failure');

      const res = await http()
        .post(path)
        .set(agentHeaders(agent, authority))
        .send({ public_jwk: { ...next.publicJwk, d: next.privateKey.export({ format: 'jwk' }).d } })
        .expect(400);

      expect(res.body.error.code).toBe('PRIVATE_KEY_MATERIAL');
      expect(await auditOf(res)).toEqual([{ event: 'rotate', outcome: 'failure', error_code: 'PRIVATE_KEY_MATERIAL', agent_uid: null, kid: null, path }]);
      expect(await timedCount('rotate', 'failure')).toBe(before + 1);
    });

    it('records a refused registration on /REGISTER/ as a register', async () => {
      const key = agentKeyPair();
      const res = await http().post('/REGISTER/').set(signatureHeaders(key, { authority, tag: 'null' })).send({ public_jwk: { ...key.publicJwk, kid: 'not-it' } }).expect(400);

      expect(await auditOf(res)).toEqual([{ event: 'register', outcome: 'failure', error_code: 'KEY_ID_MISMATCH', agent_uid: null, kid: null, path: '/REGISTER/' }]);
    });

    it('rotates on /rotate/ and times it as a rotate', async () => {
      const agent = await registerAgent(t.url, authority);
      const next = agentKeyPair();
      const before = await timedCount('rotate', 'success');

      const res = await http().post('/rotate/').set(agentHeaders(agent, authority)).send({ public_jwk: next.publicJwk }).expect(200);

      expect(await auditOf(res)).toEqual([{ event: 'rotate', outcome: 'success', error_code: null, agent_uid: agent.uid, kid: next.kid, path: '/rotate/' }]);
      expect(await timedCount('rotate', 'success')).toBe(before + 1);
    });
  });

  describe('bodies the JSON parser refuses', () => {
    const LIMIT = 64 * 1024;

    it.each([
      ['/rotate', 'a truncated JSON body', 'application/json', '{"public_jwk":', 400, 'INVALID_JSON'],
      ['/ROTATE/', 'a truncated JSON body', 'application/json', '{"public_jwk":', 400, 'INVALID_JSON'],
      ['/rotate', 'a body over the limit', 'application/json', JSON.stringify({ pad: 'a'.repeat(LIMIT + 1) }), 413, 'PAYLOAD_TOO_LARGE'],
      ['/rotate', 'an unsupported charset', 'application/json; charset=latin1', '{}', 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['/register', 'a truncated JSON body', 'application/json', '{"public_jwk":', 400, 'INVALID_JSON'],
      ['/register', 'a body over the limit', 'application/json', JSON.stringify({ pad: 'a'.repeat(LIMIT + 1) }), 413, 'PAYLOAD_TOO_LARGE'],
      ['/register', 'an unsupported charset', 'application/json; charset=latin1', '{}', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ])('POST %s with %s: the parser\'s answer, and one audit row', async (path, _name, type, body, status, code) => {
      const agent = await registerAgent(t.url, authority);
      const headers = path.toLowerCase().startsWith('/rotate') ? agentHeaders(agent, authority) : signatureHeaders(agentKeyPair(), { authority, tag: 'null' });

      const res = await http().post(path).set(headers).set('Content-Type', type).send(body).expect(status);

      expect(res.body.error).toMatchObject({ status, code });
      const event = path.toLowerCase().startsWith('/rotate') ? 'rotate' : 'register';
      expect(await auditOf(res)).toEqual([{ event, outcome: 'failure', error_code: code, agent_uid: null, kid: null, path }]);
    });

    it.each(['gzip', 'deflate'])('POST /register and /rotate with a %s body that does not decompress: 400, and one audit row each', async (encoding) => {
      const agent = await registerAgent(t.url, authority);
      for (const [path, headers] of [
        ['/register', signatureHeaders(agentKeyPair(), { authority, tag: 'null' })],
        ['/rotate', agentHeaders(agent, authority)],
      ] as const) {
        const res = await http().post(path).set(headers).set('Content-Type', 'application/json').set('Content-Encoding', encoding).send('not compressed').expect(400);

        expect(res.body.error).toEqual({ status: 400, code: 'VALIDATION_FAILED', message: 'request body could not be decompressed' });
        expect(await auditOf(res)).toEqual([{ event: path.slice(1), outcome: 'failure', error_code: 'VALIDATION_FAILED', agent_uid: null, kid: null, path }]);
      }
    });

    it('answers other routes as before, with no registration audit row', async () => {
      const agent = await registerAgent(t.url, authority);
      const res = await http().post('/whoami').set(agentHeaders(agent, authority)).set('Content-Type', 'application/json').send('{"x":').expect(400);

      expect(res.body.error.code).toBe('INVALID_JSON');
      expect(await auditOf(res)).toEqual([]);
      const unrouted = await http().post('/no-such-route').set('Content-Type', 'application/json').send('{"x":').expect(400);
      expect(unrouted.body.error.code).toBe('INVALID_JSON');
    });
  });

  describe('refused re-registration of a known key', () => {
    it('records the owning agent when the key was revoked (409 KEY_CONFLICT)', async () => {
      const agent = await registerAgent(t.url, authority);
      await http().post('/rotate').set(agentHeaders(agent, authority)).send({ public_jwk: agentKeyPair().publicJwk }).expect(200);

      const res = await http().post('/register').set(signatureHeaders(agent, { authority, tag: 'null' })).send({ public_jwk: agent.publicJwk }).expect(409);

      expect(res.body.error.code).toBe('KEY_CONFLICT');
      expect(await auditOf(res)).toEqual([{ event: 'register', outcome: 'failure', error_code: 'KEY_CONFLICT', agent_uid: agent.uid, kid: agent.kid, path: '/register' }]);
    });

    it('records the owning agent when the agent is disabled (403 AGENT_DISABLED)', async () => {
      const agent = await registerAgent(t.url, authority);
      await t.app.get(AgentAdminService).setStatus({ uid: 'cli:test', kid: null, context: NO_REQUEST }, agent.uid, 'disabled');

      const res = await http().post('/register/').set(signatureHeaders(agent, { authority, tag: 'null' })).send({ public_jwk: agent.publicJwk }).expect(403);

      expect(res.body.error.code).toBe('AGENT_DISABLED');
      expect(await auditOf(res)).toEqual([{ event: 'register', outcome: 'failure', error_code: 'AGENT_DISABLED', agent_uid: agent.uid, kid: agent.kid, path: '/register/' }]);
    });
  });
});

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
