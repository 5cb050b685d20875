import request from 'supertest';
import { registerAgent } from './factories/agent.factory';
import { startTestApp, TestApp } from './support/test-app';

const DIRECTORY = '/.well-known/http-message-signatures-directory';

describe('Discovery (e2e)', () => {
  let t: TestApp;
  let authority: string;
  const http = () => request(t.url);

  beforeAll(async () => {
    t = await startTestApp({ DIRECTORY_MAX_AGE_SECONDS: '45' });
    authority = `localhost:${t.port}`;
  });

  afterAll(async () => {
    await t?.close();
  });

  it("serves an agent's active keys on its agent host", async () => {
    const agent = await registerAgent(t.url, authority);
    const res = await http().get(DIRECTORY).set('Host', `${agent.uid}.${authority}`).expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/http-message-signatures-directory\+json/);
    expect(res.headers['cache-control']).toBe('max-age=45');
    expect(res.body).toEqual({ keys: [agent.publicJwk] });
  });

  it('matches the agent host case-insensitively', async () => {
    const agent = await registerAgent(t.url, authority);
    const res = await http().get(DIRECTORY).set('Host', `${agent.uid.toUpperCase()}.LOCALHOST:${t.port}`).expect(200);
    expect(res.body.keys[0].kid).toBe(agent.kid);
  });

  it.each([
    ['the bare authority host', (_uid: string, a: string) => a, 'NOT_FOUND'],
    ['nested labels', (uid: string, a: string) => `x.${uid}.${a}`, 'NOT_FOUND'],
    ['a label without agent-', (uid: string, a: string) => `${uid.slice(6)}.${a}`, 'NOT_FOUND'],
    ['another port', (uid: string) => `${uid}.localhost:1`, 'NOT_FOUND'],
    ['an unknown agent', (_uid: string, a: string) => `agent-${'0'.repeat(24)}.${a}`, 'UNKNOWN_AGENT'],
  ])('answers 404 on %s, never some agent’s keys', async (_name, host, code) => {
    const agent = await registerAgent(t.url, authority);
    const res = await http().get(DIRECTORY).set('Host', host(agent.uid, authority)).expect(404);
    expect(res.body.error).toMatchObject({ status: 404, code });
    expect(res.body.keys).toBeUndefined();
  });

  it('answers 404 for a disabled agent', async () => {
    const agent = await registerAgent(t.url, authority);
    await t.dataSource.query(`UPDATE agents SET status = 'disabled', disabled_at = now() WHERE uid = $1`, [agent.uid]);
    const res = await http().get(DIRECTORY).set('Host', `${agent.uid}.${authority}`).expect(404);
    expect(res.body.error.code).toBe('UNKNOWN_AGENT');
  });

  it('answers only discovery on agent hosts', async () => {
    const agent = await registerAgent(t.url, authority);
    await http().get('/').set('Host', `${agent.uid}.${authority}`).expect(404);
    const res = await http().get('/whoami').set('Host', `${agent.uid}.${authority}`).expect(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });

  it('reads the directory by primary key (no scan)', async () => {
    const agent = await registerAgent(t.url, authority);
    await t.dataSource.query('SET enable_seqscan = off');
    const plan: Array<{ 'QUERY PLAN': string }> = await t.dataSource.query(
      // The query of PublicKeyRepository.findManyPublishedKeys.
      `EXPLAIN SELECT a.uid, k.jwk FROM agents a LEFT JOIN public_keys k ON k.agent_uid = a.uid AND k.status = 'active'
        WHERE a.uid = ANY($1::varchar[]) AND a.status = 'active'`,
      [[agent.uid]],
    );
    await t.dataSource.query('RESET enable_seqscan');
    const text = plan.map((p) => p['QUERY PLAN']).join('\n');
    expect(text).toMatch(/Index Scan using "PK_[0-9a-f]+" on agents/);
    expect(text).not.toMatch(/Seq Scan/);
  });
});
