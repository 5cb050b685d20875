import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { NO_REQUEST } from '../src/audit/audit-entry';
import { NonceStore } from '../src/verification/nonce-store';
import { UsedNonceRepository } from '../src/verification/used-nonce.repository';
import type { VerificationAuditSink } from '../src/verification/verification-audit';
import { agentHeaders, registerAgent } from './factories/agent.factory';
import { startTestApp, TestApp } from './support/test-app';

/**
 * Concurrent verifications share one statement (group commit): each must
 * get its own claim's answer, in batches of any size. With the rows once
 * sorted by their ordinal as text (1, 10, 11, 2, …), a replay was answered
 * 200 and a fresh request 401 in every batch of ten or more.
 */
describe('Nonce claims of one batch (e2e)', () => {
  let t: TestApp;
  let authority: string;

  beforeAll(async () => {
    t = await startTestApp();
    authority = `localhost:${t.port}`;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('answers each of twelve claims in one statement for itself, used nonces among them', async () => {
    const repository = new UsedNonceRepository(t.dataSource);
    const kid = `batch-${randomBytes(8).toString('hex')}`;
    const keepUntilSeconds = Math.floor(Date.now() / 1000) + 600;
    const item = (nonce: string) => ({
      claim: { kid, nonce, keepUntilSeconds },
      success: { event: 'verify' as const, outcome: 'success' as const, agentUid: null, kid, context: NO_REQUEST, detail: { nonce } },
    });
    const nonces = Array.from({ length: 12 }, (_, i) => `n${i + 1}-${randomBytes(8).toString('hex')}`);
    expect(await repository.claimAndRecord([item(nonces[1]), item(nonces[10])])).toEqual([true, true]);

    const answers = await repository.claimAndRecord(nonces.map(item));

    expect(answers).toEqual(nonces.map((_, i) => i !== 1 && i !== 10));
    const rows: Array<{ outcome: string; error_code: string | null; nonce: string }> = await t.dataSource.query(
      `SELECT outcome, error_code, detail->>'nonce' AS nonce FROM audit_events WHERE kid = $1 ORDER BY id`,
      [kid],
    );
    expect(rows.slice(2).map((r) => [r.nonce, r.outcome])).toEqual(nonces.map((n, i) => [n, i !== 1 && i !== 10 ? 'success' : 'failure']));
  });

  it('answers the others of a batch when the row of a nonce repeated within it cannot be written', async () => {
    const store = t.app.get(NonceStore);
    const kid = `batch-${randomBytes(8).toString('hex')}`;
    const keepUntil = Math.floor(Date.now() / 1000) + 600;
    const success = { event: 'verify' as const, outcome: 'success' as const, agentUid: null, kid, context: NO_REQUEST };
    const failing: VerificationAuditSink = { record: () => Promise.reject(new Error('audit write failed')) };
    const consume = (nonce: string) => store.consumeAndRecord(kid, nonce, keepUntil, success, failing);
    // The first two claims take both flushes a store runs at once; the next three wait and share one statement, a nonce twice among them.
    const answers = await Promise.all([consume('p1'), consume('p2'), consume('n'), consume('n'), consume('q')]);
    expect(answers).toEqual([true, true, true, false, true]);
  });

  it('under load: every replay is refused and every fresh signature accepted, 120 requests at once', async () => {
    const agent = await registerAgent(t.url, authority);
    const used = agentHeaders(agent, authority);
    await request(t.url).get('/whoami').set(used).expect(200);

    const sends = Array.from({ length: 120 }, (_, i) => (i % 8 === 0 ? { replay: true, headers: used } : { replay: false, headers: agentHeaders(agent, authority) }));
    const replies = await Promise.all(sends.map((s) => request(t.url).get('/whoami').set(s.headers)));

    const outcomes = replies.map((res, i) => `${sends[i].replay ? 'replay' : 'fresh'} ${res.status} ${res.body.error?.code ?? ''}`.trim());
    expect(outcomes).toEqual(sends.map((s) => (s.replay ? 'replay 401 REPLAYED_NONCE' : 'fresh 200')));
  });
});
