import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { agentKeyPair } from './factories/agent.factory';
import { startTestApp, TestApp } from './support/test-app';
import { AgentEnv, makeAgentDir, readAgentEnv, removeAgentDir, runVestauth } from './support/vestauth-cli';

const DIRECTORY = '/.well-known/http-message-signatures-directory';

/**
 * The real vestauth 0.21.1 CLI against the authority, one agent's life in
 * order: init, discovery, whoami, rotate, and what the CLI shows when the
 * authority refuses it. The steps share the agent and depend on each other.
 */
describe('vestauth CLI (e2e)', () => {
  let t: TestApp;
  let authority: string;
  /** The agent's directory: the CLI keeps its identity in `<dir>/.env`. */
  let agentDir: string;
  /** A copy of the agent's `.env` taken before rotating: the revoked key. */
  let oldKeyDir: string;
  let initial: AgentEnv;
  let rotated: AgentEnv;
  const http = () => request(t.url);
  const vestauth = (dir: string, ...args: string[]) => runVestauth(dir, args);
  const directoryOf = (uid: string) => http().get(DIRECTORY).set('Host', `${uid}.${authority}`).expect(200);

  beforeAll(async () => {
    t = await startTestApp();
    authority = `localhost:${t.port}`;
    agentDir = makeAgentDir();
    oldKeyDir = makeAgentDir();
  });

  afterAll(async () => {
    await t?.close();
    if (agentDir) removeAgentDir(agentDir);
    if (oldKeyDir) removeAgentDir(oldKeyDir);
  });

  it('agent init registers a new agent, writes .env and is audited', async () => {
    const out = await vestauth(agentDir, 'agent', 'init', '--hostname', t.url);

    expect(out).toMatchObject({ code: 0, stderr: '' });
    initial = readAgentEnv(agentDir);
    expect(initial.AGENT_UID).toMatch(/^agent-[0-9a-f]{24}$/);
    expect(initial.AGENT_HOSTNAME).toBe(t.url);
    expect(out.stdout).toContain(`✔ agent created (.env/AGENT_UID=${initial.AGENT_UID})`);
    const { kid } = initial.AGENT_PUBLIC_JWK;
    expect(initial.AGENT_PRIVATE_JWK).toMatchObject({ kid, x: initial.AGENT_PUBLIC_JWK.x, d: expect.any(String) });

    expect(await t.dataSource.query(`SELECT uid, status FROM agents WHERE uid = $1`, [initial.AGENT_UID])).toEqual([
      { uid: initial.AGENT_UID, status: 'active' },
    ]);
    expect(await t.dataSource.query(`SELECT kid, agent_uid, jwk, status FROM public_keys WHERE agent_uid = $1`, [initial.AGENT_UID])).toEqual([
      { kid, agent_uid: initial.AGENT_UID, jwk: initial.AGENT_PUBLIC_JWK, status: 'active' },
    ]);
    expect(await t.dataSource.query(`SELECT event, outcome, error_code, kid FROM audit_events WHERE agent_uid = $1 ORDER BY id`, [initial.AGENT_UID])).toEqual([
      { event: 'register', outcome: 'success', error_code: null, kid },
    ]);
  });

  it("publishes exactly the CLI's public key on the agent host", async () => {
    const res = await directoryOf(initial.AGENT_UID);
    const { kty, crv, x, kid } = initial.AGENT_PUBLIC_JWK;
    expect(res.body).toEqual({ keys: [{ kty, crv, x, kid }] });
  });

  it('agent init again reuses the key in .env and gets the same agent back', async () => {
    const out = await vestauth(agentDir, 'agent', 'init', '--hostname', t.url);

    expect(out).toMatchObject({ code: 0, stderr: '' });
    expect(out.stdout).toContain(`• agent exists (.env/AGENT_UID=${initial.AGENT_UID})`);
    expect(readAgentEnv(agentDir)).toEqual(initial);
    const registrations = await t.dataSource.query(
      `SELECT outcome, kid, detail FROM audit_events WHERE agent_uid = $1 AND event = 'register' ORDER BY id`,
      [initial.AGENT_UID],
    );
    const { kid } = initial.AGENT_PUBLIC_JWK;
    expect(registrations).toEqual([
      { outcome: 'success', kid, detail: { is_new: true } },
      { outcome: 'success', kid, detail: { is_new: false } },
    ]);
  });

  it('agent curl /whoami is verified as this agent and audited', async () => {
    const out = await vestauth(agentDir, 'agent', 'curl', `${t.url}/whoami`);

    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({
      uid: initial.AGENT_UID,
      kid: initial.AGENT_PUBLIC_JWK.kid,
      public_jwk: initial.AGENT_PUBLIC_JWK,
      well_known_url: `http://${initial.AGENT_UID}.${authority}${DIRECTORY}`,
    });
    const verified = await t.dataSource.query(
      `SELECT kid, method, path FROM audit_events WHERE agent_uid = $1 AND event = 'verify' AND outcome = 'success'`,
      [initial.AGENT_UID],
    );
    expect(verified).toEqual([{ kid: initial.AGENT_PUBLIC_JWK.kid, method: 'GET', path: '/whoami' }]);
  });

  it('agent rotate replaces the key: .env, directory, database and whoami all move to the new one', async () => {
    copyFileSync(join(agentDir, '.env'), join(oldKeyDir, '.env'));

    const out = await vestauth(agentDir, 'agent', 'rotate');

    expect(out).toMatchObject({ code: 0, stderr: '' });
    expect(out.stdout).toContain(`✔ agent keys rotated (.env/AGENT_UID=${initial.AGENT_UID})`);
    rotated = readAgentEnv(agentDir);
    expect(rotated.AGENT_UID).toBe(initial.AGENT_UID);
    expect(rotated.AGENT_HOSTNAME).toBe(t.url);
    expect(rotated.AGENT_PUBLIC_JWK.kid).not.toBe(initial.AGENT_PUBLIC_JWK.kid);
    expect(rotated.AGENT_PRIVATE_JWK.d).not.toBe(initial.AGENT_PRIVATE_JWK.d);

    expect((await directoryOf(initial.AGENT_UID)).body).toEqual({ keys: [rotated.AGENT_PUBLIC_JWK] });
    const keys = await t.dataSource.query(
      `SELECT kid, status, revoked_reason, revoked_at IS NOT NULL AS revoked FROM public_keys WHERE agent_uid = $1 ORDER BY created_at`,
      [initial.AGENT_UID],
    );
    expect(keys).toEqual([
      { kid: initial.AGENT_PUBLIC_JWK.kid, status: 'revoked', revoked_reason: 'rotated', revoked: true },
      { kid: rotated.AGENT_PUBLIC_JWK.kid, status: 'active', revoked_reason: null, revoked: false },
    ]);
    const rotateEvents = await t.dataSource.query(
      `SELECT outcome, kid, detail FROM audit_events WHERE agent_uid = $1 AND event = 'rotate'`,
      [initial.AGENT_UID],
    );
    expect(rotateEvents).toEqual([
      { outcome: 'success', kid: rotated.AGENT_PUBLIC_JWK.kid, detail: { old_kid: initial.AGENT_PUBLIC_JWK.kid, new_kid: rotated.AGENT_PUBLIC_JWK.kid } },
    ]);

    const whoami = await vestauth(agentDir, 'agent', 'curl', `${t.url}/whoami`);
    expect(whoami.code).toBe(0);
    expect(JSON.parse(whoami.stdout)).toMatchObject({ uid: initial.AGENT_UID, kid: rotated.AGENT_PUBLIC_JWK.kid, public_jwk: rotated.AGENT_PUBLIC_JWK });
  });

  it('refuses the old key after rotation (401 REVOKED_KEY), and the CLI prints the code', async () => {
    const headers = await vestauth(oldKeyDir, 'agent', 'headers', 'POST', `${t.url}/rotate`);
    expect(headers.code).toBe(0);
    const signed = JSON.parse(headers.stdout) as Record<string, string>;
    expect(Object.keys(signed).sort()).toEqual(['Signature', 'Signature-Agent', 'Signature-Input']);
    expect(signed['Signature-Agent']).toBe(`sig1="http://${initial.AGENT_UID}.${authority}"`);
    expect(signed['Signature-Input']).toContain(`keyid="${initial.AGENT_PUBLIC_JWK.kid}"`);

    const res = await http().post('/rotate').set(signed).send({ public_jwk: agentKeyPair().publicJwk }).expect(401);
    expect(res.body.error).toMatchObject({ status: 401, code: 'REVOKED_KEY' });
    const failures = await t.dataSource.query(`SELECT agent_uid, kid, outcome FROM audit_events WHERE error_code = 'REVOKED_KEY' AND request_id = $1`, [
      res.headers['x-request-id'],
    ]);
    expect(failures).toEqual([{ agent_uid: initial.AGENT_UID, kid: initial.AGENT_PUBLIC_JWK.kid, outcome: 'failure' }]);

    const out = await vestauth(oldKeyDir, 'agent', 'rotate');
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^\[REVOKED_KEY\] \S.*\n$/);
    expect(readAgentEnv(oldKeyDir)).toEqual(initial);
    expect((await directoryOf(initial.AGENT_UID)).body).toEqual({ keys: [rotated.AGENT_PUBLIC_JWK] });
  });

  it('agent curl prints the error body of an unknown route (404 NOT_FOUND)', async () => {
    const out = await vestauth(agentDir, 'agent', 'curl', `${t.url}/nope`);

    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ error: expect.objectContaining({ status: 404, code: 'NOT_FOUND', message: expect.any(String) }) });
  });

  it('agent init with a revoked key fails with [KEY_CONFLICT] and leaves .env alone', async () => {
    const out = await vestauth(oldKeyDir, 'agent', 'init', '--hostname', t.url);

    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^\[KEY_CONFLICT\] \S.*\n$/);
    expect(out.stdout).not.toContain('agent created');
    expect(readAgentEnv(oldKeyDir)).toEqual(initial);
    const refused = await t.dataSource.query(`SELECT outcome, kid FROM audit_events WHERE event = 'register' AND error_code = 'KEY_CONFLICT' AND kid = $1`, [
      initial.AGENT_PUBLIC_JWK.kid,
    ]);
    expect(refused).toEqual([{ outcome: 'failure', kid: initial.AGENT_PUBLIC_JWK.kid }]);
    const [{ keys }] = await t.dataSource.query(`SELECT count(*)::int AS keys FROM public_keys WHERE agent_uid = $1`, [initial.AGENT_UID]);
    expect(keys).toBe(2);
  });
});
