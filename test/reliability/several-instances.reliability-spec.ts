import type { Client } from 'pg';
import { MIGRATION_LOCK_KEY } from '../../src/database/migration-runner';
import { LISTENER_APPLICATION_NAME } from '../../src/verification/key-invalidation';
import { agentKeyPair, RegisteredAgent } from '../factories/agent.factory';
import { AuthorityClient } from './support/authority-client';
import { describeReply, errorCode, Reply } from './support/http-client';
import { ScratchDatabase } from './support/scratch-database';
import { ensureServiceBuilt, killAllServices, ServiceProcess, sleep, startService, waitFor } from './support/service-process';
import { TimingReport } from './support/timing-report';

/**
 * Two processes of the built service on one PostgreSQL database behind one
 * PUBLIC_URL, as behind a load balancer (DESIGN.md section 6): nothing that
 * decides correctness may live in one process only. Both listen on their
 * own port; every request carries Host auth.test:8080 and is signed for it.
 */

const AUTHORITY = 'auth.test:8080';
// The default, named because it is the fallback bound: without LISTEN/NOTIFY
// another instance forgets a rotated or revoked key within this long.
const KEY_CACHE_TTL_MS = 2_000;

let db: ScratchDatabase;
let a: ServiceProcess;
let b: ServiceProcess;
let onA: AuthorityClient;
let onB: AuthorityClient;
const report = new TimingReport('Several instances (one database, one PUBLIC_URL)');

const env = (extra: Record<string, string> = {}): Record<string, string> => ({
  DATABASE_URL: db.url,
  PUBLIC_URL: `http://${AUTHORITY}`,
  KEY_CACHE_TTL_MS: String(KEY_CACHE_TTL_MS),
  ...extra,
});

beforeAll(async () => {
  ensureServiceBuilt();
  db = await ScratchDatabase.create('vestauth_reliability');
}, 120_000);

afterAll(async () => {
  await killAllServices();
  await db?.drop();
  report.print();
});

/** Sessions of this database waiting for an advisory lock (the instances, once they reach the migrations). */
async function waitingForMigrationLock(holder: Client): Promise<number> {
  const { rows } = await holder.query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
  );
  return Number(rows[0].n);
}

interface Refusal {
  reply: Reply;
  /** 1: the first request after the change was already refused. */
  attempts: number;
  /** From the change's answer to the refusal's answer. */
  afterMs: number;
}

/**
 * Sends `probe` right after a change made on the other instance and again
 * until it is refused or the cache bound (plus a margin for slow machines)
 * has passed, so that a late refusal is measured instead of only failing.
 */
async function untilRefused(changedAt: number, probe: () => Promise<Reply>): Promise<Refusal> {
  for (let attempts = 1; ; attempts++) {
    const reply = await probe();
    const afterMs = Math.round(performance.now() - changedAt);
    if (reply.status !== 200 || afterMs > KEY_CACHE_TTL_MS + 3_000) return { reply, attempts, afterMs };
    await sleep(50);
  }
}

function expectRefusedAtOnce(refusal: Refusal, status: number, code: string, what: string): void {
  report.add(
    `${what}: refused by the other instance ${refusal.attempts === 1 ? 'at once' : `only after ${refusal.attempts} attempts`} ` +
      `(${describeReply(refusal.reply)}, ${refusal.afterMs} ms after the change was answered)`,
  );
  expect({ status: refusal.reply.status, code: errorCode(refusal.reply) }).toEqual({ status, code });
  expect(refusal.afterMs).toBeLessThanOrEqual(KEY_CACHE_TTL_MS + 1_000);
  // LISTEN/NOTIFY (src/verification/key-invalidation.ts): not even one
  // request may still pass on the other instance's warm cache.
  expect(refusal.attempts).toBe(1);
}

/** whoami on `client` answers 200 for `agent` (and so `agent`'s key is in that instance's cache). */
async function expectVerifies(client: AuthorityClient, agent: RegisteredAgent): Promise<void> {
  const reply = await client.whoami(agent);
  expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: expect.objectContaining({ uid: agent.uid, kid: agent.kid }) });
}

describe('Several instances on one PostgreSQL', () => {
  it('both come up when they start at the same time on an empty database, and the migrations run once', async () => {
    // Process start-up jitter (seconds on a busy machine) dwarfs the
    // migrations (~100 ms), so two plain starts would rarely overlap. The
    // test holds the migration lock until both instances wait for it, then
    // lets them go at the same moment.
    const holder = await db.connect();
    let starting: Promise<ServiceProcess[]> | undefined;
    let bothWaiting = false;
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      let settled = false;
      starting = Promise.all([startService('a', env()), startService('b', env())]);
      // An instance that comes up (or fails) while the lock is held did not wait for it.
      starting.then(
        () => (settled = true),
        () => (settled = true),
      );
      bothWaiting = await waitFor(async () => settled || (await waitingForMigrationLock(holder)) === 2, 60_000, 50);
      bothWaiting &&= !settled;
    } finally {
      await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
    const released = performance.now();
    try {
      expect(bothWaiting).toBe(true);
      [a, b] = await starting;
    } finally {
      await holder.end();
    }
    report.add(`two instances released together on an empty database: both listening ${Math.round(performance.now() - released)} ms later`);

    // One migrated while the other waited, and then found nothing to do.
    const outputs = [a.output(), b.output()];
    expect(outputs.filter((out) => /Applying \d+ migration\(s\)/.test(out))).toHaveLength(1);
    expect(outputs.filter((out) => out.includes('Schema is up to date'))).toHaveLength(1);
    const [counts] = await db.query<{ total: string; names: string }>('SELECT count(*) AS total, count(DISTINCT name) AS names FROM migrations');
    expect(Number(counts.total)).toBeGreaterThan(0);
    expect(counts.total).toBe(counts.names);

    for (const service of [a, b]) {
      const ready = await new AuthorityClient(service.port, AUTHORITY).get('/health/ready');
      expect(ready.status).toBe(200);
    }
  });

  describe('behind one PUBLIC_URL', () => {
    let admin: RegisteredAgent;

    beforeAll(async () => {
      // ADMIN_AGENT_UIDS is read at start and the uid comes from
      // registration: register the admin, then restart A with it.
      admin = await new AuthorityClient(a.port, AUTHORITY).registered();
      // How it exits is test/process.e2e-spec.ts's business; here it only has to go.
      await a.stop();
      a = await startService('a', env({ ADMIN_AGENT_UIDS: admin.uid }));
      onA = new AuthorityClient(a.port, AUTHORITY);
      onB = new AuthorityClient(b.port, AUTHORITY);
    }, 90_000);

    it('an agent registered on one instance verifies on the other', async () => {
      const onFirst = await onA.registered();
      await expectVerifies(onB, onFirst);
      const directory = await onB.directory(onFirst.uid);
      expect({ status: directory.status, body: directory.body }).toEqual({ status: 200, body: { keys: [onFirst.publicJwk] } });

      const onSecond = await onB.registered();
      await expectVerifies(onA, onSecond);
      // The same key registered again on the other instance is the same agent.
      const again = await onA.register(onSecond);
      expect({ status: again.status, body: again.body }).toEqual({ status: 200, body: expect.objectContaining({ uid: onSecond.uid, is_new: false }) });
    });

    it('a signature used on one instance is a replay on the other', async () => {
      const agent = await onA.registered();
      for (const [first, second] of [
        [onA, onB],
        [onB, onA],
      ]) {
        const headers = first.signed(agent);
        const used = await first.whoami(agent, headers);
        expect(used.status).toBe(200);
        const replayed = await second.whoami(agent, headers);
        expect({ status: replayed.status, code: errorCode(replayed) }).toEqual({ status: 401, code: 'REPLAYED_NONCE' });
      }

      // Sent to both at the same moment: exactly one wins, whichever it is.
      for (let round = 0; round < 5; round++) {
        const headers = onA.signed(agent);
        const replies = await Promise.all([onA.whoami(agent, headers), onB.whoami(agent, headers)]);
        const outcomes = replies.map((reply) => `${reply.status} ${errorCode(reply) ?? ''}`.trim()).sort();
        expect(outcomes).toEqual(['200', '401 REPLAYED_NONCE']);
      }
    });

    it('a rotation on one instance is refused for the old key by the other at once', async () => {
      const agent = await onA.registered();
      await expectVerifies(onB, agent);
      const next = agentKeyPair();

      const rotated = await onA.rotate(agent, next);
      const changedAt = performance.now();
      expect({ status: rotated.status, body: rotated.body }).toEqual({ status: 200, body: expect.objectContaining({ uid: agent.uid, kid: next.kid }) });

      expectRefusedAtOnce(await untilRefused(changedAt, () => onB.whoami(agent)), 401, 'REVOKED_KEY', 'rotation on A, old key on B');
      await expectVerifies(onB, { ...next, uid: agent.uid, agentUrl: agent.agentUrl });
    });

    it('an admin revocation on one instance is refused by the other at once', async () => {
      const agent = await onA.registered();
      await expectVerifies(onB, agent);

      const revoked = await onA.adminPost(admin, `/admin/agents/${agent.uid}/keys/${agent.kid}/revoke`, { reason: 'reliability test: key compromised' });
      const changedAt = performance.now();
      expect({ status: revoked.status, body: revoked.body }).toEqual({ status: 200, body: expect.objectContaining({ kid: agent.kid, status: 'revoked' }) });

      expectRefusedAtOnce(await untilRefused(changedAt, () => onB.whoami(agent)), 401, 'REVOKED_KEY', 'admin revocation on A, key on B');
    });

    it('while the other instance\'s change listener hangs, a revocation reaches it within KEY_CACHE_TTL_MS all the same', async () => {
      // B keeps keys for KEY_CACHE_NOTIFIED_TTL_MS (minutes) while its
      // LISTEN session is live. Freezing that session's backend loses the
      // notification silently; B's heartbeat must notice and drop its cache.
      const agent = await onA.registered();
      await expectVerifies(onB, agent);
      const [listener] = await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [
        `${LISTENER_APPLICATION_NAME} ${b.child.pid}`,
      ]);
      expect(listener).toBeDefined();
      process.kill(listener.pid, 'SIGSTOP');
      try {
        const revoked = await onA.adminPost(admin, `/admin/agents/${agent.uid}/keys/${agent.kid}/revoke`, { reason: 'reliability test: listener frozen' });
        const changedAt = performance.now();
        expect(revoked.status).toBe(200);

        const refusal = await untilRefused(changedAt, () => onB.whoami(agent));
        report.add(`admin revocation on A while B's listener is frozen: ${describeReply(refusal.reply)} on B after ${refusal.afterMs} ms (${refusal.attempts} attempts)`);
        expect({ status: refusal.reply.status, code: errorCode(refusal.reply) }).toEqual({ status: 401, code: 'REVOKED_KEY' });
        expect(refusal.afterMs).toBeLessThanOrEqual(KEY_CACHE_TTL_MS + 1_000);
      } finally {
        process.kill(listener.pid, 'SIGCONT');
      }
      // B listens again (a new session) and notifications reach it at once again.
      const relistened = await waitFor(
        async () => (await db.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND pid <> $2', [`${LISTENER_APPLICATION_NAME} ${b.child.pid}`, listener.pid])).length === 1,
        15_000,
        100,
      );
      expect(relistened).toBe(true);
      // The on-call engineer reads both ends of the episode.
      expect(b.output()).toMatch(/Key change listener lost \(no heartbeat answer within \d+ ms\); caches cleared/);
      expect(await waitFor(() => /Key change listener back after \d+ ms; caches cleared/.test(b.output()), 5_000, 100)).toBe(true);
      const other = await onA.registered();
      await expectVerifies(onB, other);
      await onA.adminPost(admin, `/admin/agents/${other.uid}/disable`);
      expectRefusedAtOnce(await untilRefused(performance.now(), () => onB.whoami(other)), 403, 'AGENT_DISABLED', 'disable on A after B listens again');
    });

    it('a key revoked in plain SQL, without the service, is refused by both instances at once', async () => {
      // An operator during an incident: the admin API is not the only way
      // a key is revoked. The trigger on public_keys sends the notification.
      const agent = await onA.registered();
      await expectVerifies(onA, agent);
      await expectVerifies(onB, agent);

      await db.query(`UPDATE public_keys SET status = 'revoked', revoked_at = now(), revoked_reason = 'revoked by hand' WHERE kid = $1`, [agent.kid]);
      const changedAt = performance.now();
      expectRefusedAtOnce(await untilRefused(changedAt, () => onA.whoami(agent)), 401, 'REVOKED_KEY', 'plain SQL revocation, key on A');
      expectRefusedAtOnce(await untilRefused(changedAt, () => onB.whoami(agent)), 401, 'REVOKED_KEY', 'plain SQL revocation, key on B');
      const directory = await onB.directory(agent.uid);
      expect({ status: directory.status, body: directory.body }).toEqual({ status: 200, body: { keys: [] } });
    });

    it('an agent disabled in plain SQL is refused by both instances at once, and a key deleted in plain SQL too', async () => {
      const agent = await onA.registered();
      await expectVerifies(onA, agent);
      await expectVerifies(onB, agent);
      await db.query(`UPDATE agents SET status = 'disabled', disabled_at = now() WHERE uid = $1`, [agent.uid]);
      const disabledAt = performance.now();
      expectRefusedAtOnce(await untilRefused(disabledAt, () => onA.whoami(agent)), 403, 'AGENT_DISABLED', 'plain SQL disable, agent on A');
      expectRefusedAtOnce(await untilRefused(disabledAt, () => onB.whoami(agent)), 403, 'AGENT_DISABLED', 'plain SQL disable, agent on B');

      const other = await onB.registered();
      await expectVerifies(onA, other);
      await expectVerifies(onB, other);
      await db.query(`DELETE FROM public_keys WHERE kid = $1`, [other.kid]);
      const deletedAt = performance.now();
      expectRefusedAtOnce(await untilRefused(deletedAt, () => onA.whoami(other)), 401, 'UNKNOWN_KEY', 'plain SQL key deletion, key on A');
      expectRefusedAtOnce(await untilRefused(deletedAt, () => onB.whoami(other)), 401, 'UNKNOWN_KEY', 'plain SQL key deletion, key on B');
    });

    it('the notification is the database\'s own: sent only when a change the caches depend on commits, whatever the session', async () => {
      const agent = await onA.registered();
      const listener = await db.connect();
      const writer = await db.connect();
      const heard: string[] = [];
      listener.on('notification', (message) => heard.push(message.payload ?? ''));
      try {
        await listener.query('LISTEN vestauth_key_changes');
        // Rolled back: nothing is announced.
        await writer.query('BEGIN');
        await writer.query(`UPDATE public_keys SET status = 'revoked', revoked_at = now() WHERE kid = $1`, [agent.kid]);
        await writer.query('ROLLBACK');
        // Changing nothing the caches hold: nothing is announced either.
        await writer.query(`UPDATE agents SET updated_at = now(), status = status WHERE uid = $1`, [agent.uid]);
        await writer.query(`UPDATE public_keys SET revoked_reason = NULL WHERE kid = $1`, [agent.kid]);
        // Also from a session that skips ordinary triggers (restore and replication tools).
        await writer.query(`SET session_replication_role = replica`);
        await writer.query(`UPDATE agents SET status = 'disabled', disabled_at = now() WHERE uid = $1`, [agent.uid]);
        await writer.query(`RESET session_replication_role`);
        // That notification arrives after any the statements before could have sent.
        expect(await waitFor(async () => heard.length > 0, 5_000, 20)).toBe(true);
        expect(heard.map((payload) => JSON.parse(payload))).toEqual([{ uid: agent.uid }]);
        const refused = await onB.whoami(agent);
        expect({ status: refused.status, code: errorCode(refused) }).toEqual({ status: 403, code: 'AGENT_DISABLED' });
        await writer.query(`UPDATE agents SET status = 'active', disabled_at = NULL WHERE uid = $1`, [agent.uid]);
        expect(await waitFor(async () => heard.length > 1, 5_000, 20)).toBe(true);
        await expectVerifies(onB, agent);
      } finally {
        await listener.end();
        await writer.end();
      }
    });

    it('disabling an agent on one instance is refused by the other at once, and enabling it again too', async () => {
      const agent = await onA.registered();
      await expectVerifies(onB, agent);

      const disabled = await onA.adminPost(admin, `/admin/agents/${agent.uid}/disable`);
      const changedAt = performance.now();
      expect({ status: disabled.status, body: disabled.body }).toEqual({ status: 200, body: expect.objectContaining({ uid: agent.uid, status: 'disabled' }) });
      expectRefusedAtOnce(await untilRefused(changedAt, () => onB.whoami(agent)), 403, 'AGENT_DISABLED', 'disable on A, agent on B');

      // B has just cached the agent as disabled: enabling must reach it as well.
      const enabled = await onA.adminPost(admin, `/admin/agents/${agent.uid}/enable`);
      expect(enabled.status).toBe(200);
      const back = await onB.whoami(agent);
      report.add(`enable on A, agent on B: ${describeReply(back)} on the first request`);
      expect(back.status).toBe(200);
    });

    // Last: it empties the tables.
    it('truncating the keys in plain SQL clears both instances\' caches at once', async () => {
      const agent = await onA.registered();
      await expectVerifies(onA, agent);
      await expectVerifies(onB, agent);
      await db.query('TRUNCATE public_keys');
      const truncatedAt = performance.now();
      expectRefusedAtOnce(await untilRefused(truncatedAt, () => onA.whoami(agent)), 401, 'UNKNOWN_KEY', 'plain SQL truncate, key on A');
      expectRefusedAtOnce(await untilRefused(truncatedAt, () => onB.whoami(agent)), 401, 'UNKNOWN_KEY', 'plain SQL truncate, key on B');
    });
  });
});
