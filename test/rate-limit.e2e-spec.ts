import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { agentHeaders, agentKeyPair, signatureHeaders } from './factories/agent.factory';
import { startTestApp, TestApp } from './support/test-app';

describe('Rate limiting (e2e)', () => {
  let t: TestApp;
  let authority: string;
  const http = () => request(t.url);

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_REGISTER_PER_MINUTE: '5', RATE_LIMIT_FAILED_VERIFY_PER_MINUTE: '3' });
    authority = `localhost:${t.port}`;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('limits registrations per client IP with 429 RATE_LIMITED and Retry-After', async () => {
    const statuses: number[] = [];
    let limited: request.Response | undefined;
    for (let i = 0; i < 7; i++) {
      const key = agentKeyPair();
      const res = await http().post('/register').set(signatureHeaders(key, { authority, tag: 'null' })).send({ public_jwk: key.publicJwk });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(limited!.body.error).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('limits failed verifications per client IP; successes are never counted', async () => {
    // The registration budget above is spent: make the agent directly in SQL.
    const key = agentKeyPair();
    const uid = `agent-${randomBytes(12).toString('hex')}`;
    await t.dataSource.query(`INSERT INTO agents (uid) VALUES ($1)`, [uid]);
    await t.dataSource.query(`INSERT INTO public_keys (kid, agent_uid, jwk) VALUES ($1, $2, $3)`, [key.kid, uid, JSON.stringify(key.publicJwk)]);
    const agent = { ...key, uid, agentUrl: `http://${uid}.${authority}` };

    for (let i = 0; i < 5; i++) await http().get('/whoami').set(agentHeaders(agent, authority)).expect(200);
    for (let i = 0; i < 3; i++) {
      await http().get('/whoami').set(agentHeaders(agent, authority, { tag: 'wrong' })).expect(401);
    }
    const res = await http().get('/whoami').set(agentHeaders(agent, authority)).expect(429);
    expect(res.body.error.code).toBe('RATE_LIMITED');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });
});
