import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { Clock } from '../src/verification/clock';
import { NONCE_RETENTION_MARGIN_SECONDS, NonceStore } from '../src/verification/nonce-store';
import { PostgresNonceStore } from '../src/verification/postgres-nonce-store';
import { nonceHash } from '../src/verification/used-nonce.repository';
import { agentHeaders, registerAgent } from './factories/agent.factory';
import type { RegisteredAgent } from './factories/agent.factory';
import { startTestApp, TestApp } from './support/test-app';

/**
 * DESIGN.md section 4 step 8: a nonce is kept while its signature can still
 * be accepted. The signature below is in its last accepted second on the
 * app's clock, and the database's purge runs in between: the replay must
 * still be REPLAYED_NONCE.
 */
describe('Nonce retention at the expiry boundary (e2e)', () => {
  let t: TestApp;
  let authority: string;
  let agent: RegisteredAgent;
  let clock: Clock;
  let nonces: PostgresNonceStore;
  const skew = 30;

  beforeAll(async () => {
    t = await startTestApp({ CLOCK_SKEW_SECONDS: String(skew) });
    authority = `localhost:${t.port}`;
    agent = await registerAgent(t.url, authority);
    clock = t.app.get(Clock);
    nonces = t.app.get(NonceStore) as PostgresNonceStore;
    expect(nonces).toBeInstanceOf(PostgresNonceStore);
  });

  afterEach(() => jest.restoreAllMocks());

  afterAll(async () => {
    await t?.close();
  });

  /** Sends a signature whose last accepted second is the app's `now`, purges, and replays it. */
  async function replayAcrossPurge(appNow: number, path: string): Promise<{ first: request.Response; purged: number; replay: request.Response }> {
    jest.spyOn(clock, 'nowSeconds').mockReturnValue(appNow);
    const expires = appNow - skew; // floor(now) <= expires + skew: accepted in second appNow, not after
    const headers = agentHeaders(agent, authority, { created: expires - 300, expires });
    const first = await request(t.url).get(path).set(headers);
    const purged = await nonces.purge(); // the database clock is at or past appNow
    const replay = await request(t.url).get(path).set(headers);
    return { first, purged, replay };
  }

  it.each(['/whoami', '/whoami/'])('refuses a replay in the last accepted second after a purge (%s)', async (path) => {
    // Same clock as the database: only the whole-second rounding differs.
    const { first, replay } = await replayAcrossPurge(Math.floor(Date.now() / 1000), path);
    expect(first.status).toBe(200);
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe('REPLAYED_NONCE');
  });

  it('refuses it on an instance whose clock runs behind the database, within the margin', async () => {
    const behind = NONCE_RETENTION_MARGIN_SECONDS - 5;
    const { first, replay } = await replayAcrossPurge(Math.floor(Date.now() / 1000) - behind, '/whoami');
    expect(first.status).toBe(200);
    expect(replay.body.error?.code).toBe('REPLAYED_NONCE');
  });

  it('stores the nonce until the margin after the end of the last accepted second, and purges it then', async () => {
    const appNow = Math.floor(Date.now() / 1000);
    jest.spyOn(clock, 'nowSeconds').mockReturnValue(appNow);
    const expires = appNow + 200;
    const nonce = randomBytes(64).toString('base64url');
    await request(t.url).get('/whoami').set(agentHeaders(agent, authority, { created: appNow, expires, nonce })).expect(200);
    const row = `kid = $1 AND nonce_hash = $2`;
    const [stored] = await t.dataSource.query(`SELECT extract(epoch FROM expires_at)::bigint AS keep_until FROM used_nonces WHERE ${row}`, [agent.kid, nonceHash(nonce)]);
    expect(Number(stored.keep_until)).toBe(expires + skew + 1 + NONCE_RETENTION_MARGIN_SECONDS);
    // Rows do not outlive their keep-until time: one pushed into the past goes at the next purge.
    await t.dataSource.query(`UPDATE used_nonces SET expires_at = now() - interval '1 second' WHERE ${row}`, [agent.kid, nonceHash(nonce)]);
    expect(await nonces.purge()).toBeGreaterThanOrEqual(1);
    expect(await t.dataSource.query(`SELECT 1 FROM used_nonces WHERE ${row}`, [agent.kid, nonceHash(nonce)])).toEqual([]);
  });
});
