import { randomBytes } from 'node:crypto';
import { request as rawRequest } from 'node:http';
import request from 'supertest';
import { agentHeaders, agentKeyPair, signatureHeaders } from './factories/agent.factory';
import type { RegisteredAgent } from './factories/agent.factory';
import { startTestApp, TestApp } from './support/test-app';

interface Reply {
  status: number;
  code?: string;
  retryAfter?: string;
}

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

  /** The registration budget is spent by the first test: agents are made directly in SQL. */
  async function agentInSql(): Promise<RegisteredAgent> {
    const key = agentKeyPair();
    const uid = `agent-${randomBytes(12).toString('hex')}`;
    await t.dataSource.query(`INSERT INTO agents (uid) VALUES ($1)`, [uid]);
    await t.dataSource.query(`INSERT INTO public_keys (kid, agent_uid, jwk) VALUES ($1, $2, $3)`, [key.kid, uid, JSON.stringify(key.publicJwk)]);
    return { ...key, uid, agentUrl: `http://${uid}.${authority}` };
  }

  /** A GET from another loopback address (127.0.0.0/8 is all loopback on Linux): another client IP. */
  function getFrom(localAddress: string, path: string, headers: Record<string, string>): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = rawRequest({ host: '127.0.0.1', port: t.port, path, localAddress, headers: { Host: authority, ...headers } }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, code: body ? (JSON.parse(body) as { error?: { code?: string } }).error?.code : undefined, retryAfter: res.headers['retry-after'] }));
      });
      req.on('error', reject);
      req.end();
    });
  }

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

  it('limits refused registrations and rotations too, before their bodies: each would write an audit row', async () => {
    const own = await startTestApp({ RATE_LIMIT_REGISTER_PER_MINUTE: '3' });
    try {
      const replies: request.Response[] = [];
      // The hot route (/register) and Express's (/register/, /rotate) share one budget.
      for (const path of ['/register', '/register/', '/rotate', '/register', '/rotate']) {
        replies.push(await request(own.url).post(path).set('Content-Type', 'application/json').send('{bad'));
      }
      expect(replies.map((r) => `${r.status} ${r.body.error.code}`)).toEqual([
        '400 INVALID_JSON',
        '400 INVALID_JSON',
        '400 INVALID_JSON',
        '429 RATE_LIMITED',
        '429 RATE_LIMITED',
      ]);
      const rows: Array<{ error_code: string }> = await own.dataSource.query(
        `SELECT error_code FROM audit_events WHERE request_id = ANY($1::varchar[]) ORDER BY id`,
        [replies.map((r) => r.headers['x-request-id'])],
      );
      expect(rows.map((r) => r.error_code)).toEqual(['INVALID_JSON', 'INVALID_JSON', 'INVALID_JSON']);
    } finally {
      await own.close();
    }
  });

  it('limits failed verifications per client IP; successes are never counted', async () => {
    const agent = await agentInSql();

    for (let i = 0; i < 5; i++) await http().get('/whoami').set(agentHeaders(agent, authority)).expect(200);
    for (let i = 0; i < 3; i++) {
      await http().get('/whoami').set(agentHeaders(agent, authority, { tag: 'wrong' })).expect(401);
    }
    const res = await http().get('/whoami').set(agentHeaders(agent, authority)).expect(429);
    expect(res.body.error.code).toBe('RATE_LIMITED');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it.each(['/whoami', '/whoami/'])(
    "charges failures to the client IP, never to the agent they name: the agent's own requests from elsewhere still pass (%s)",
    async (path) => {
      const victim = await agentInSql();
      const attacker = agentKeyPair(); // no identity here at all
      const forged = () => signatureHeaders(attacker, { authority, agentUrl: victim.agentUrl });
      const attackerIp = path === '/whoami' ? '127.0.0.2' : '127.0.0.4';
      const victimIp = path === '/whoami' ? '127.0.0.3' : '127.0.0.5';

      const failures: number[] = [];
      for (let i = 0; i < 3; i++) failures.push((await getFrom(attackerIp, path, forged())).status);
      expect(failures).toEqual([401, 401, 401]);
      const limited = await getFrom(attackerIp, path, forged());
      expect(limited).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      expect(Number(limited.retryAfter)).toBeGreaterThanOrEqual(1);

      // The named agent, correctly signed from its own address: never limited by someone else's failures.
      for (let i = 0; i < 5; i++) expect(await getFrom(victimIp, path, agentHeaders(victim, authority))).toMatchObject({ status: 200 });
      // The failing client stays limited, whoever it names and even when correctly signed.
      expect(await getFrom(attackerIp, path, agentHeaders(victim, authority))).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    },
  );
});
