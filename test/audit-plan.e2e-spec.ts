import { DataSource, QueryRunner } from 'typeorm';
import { AuditEventRepository, AuditFilter } from '../src/audit/audit-event.repository';
import { startTestApp, TestApp } from './support/test-app';

/**
 * Each admin audit filter alone is one index range scan (the repository's
 * keyset query). Plans are taken on a scratch copy of audit_events (a
 * temporary table of the same name, with the same indexes under the same
 * names, which shadows it in this session) filled with enough rows that a
 * scan of the whole table or of occurred_at_idx is clearly the worse plan.
 */

const ROWS = 20_000;

/** EXPLAIN of the statement AuditEventRepository.search itself builds, run on `runner`'s session. */
async function planOf(runner: QueryRunner, filter: AuditFilter): Promise<string> {
  const plan: string[] = [];
  const explaining = {
    query: async (sql: string, parameters?: unknown[]) => {
      const rows: Array<{ 'QUERY PLAN': string }> = await runner.query(`EXPLAIN ${sql}`, parameters);
      plan.push(...rows.map((r) => r['QUERY PLAN']));
      return [];
    },
  } as unknown as DataSource;
  // The service asks for one row more than the page.
  await new AuditEventRepository(explaining).search(filter, 51);
  return plan.join('\n');
}

describe('Audit search plans (e2e)', () => {
  let t: TestApp;
  let runner: QueryRunner;

  beforeAll(async () => {
    t = await startTestApp();
    runner = t.dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    const indexes: Array<{ indexdef: string }> = await runner.query(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'audit_events'`,
    );
    await runner.query(`CREATE TEMP TABLE audit_events (LIKE public.audit_events INCLUDING DEFAULTS) ON COMMIT DROP`);
    for (const { indexdef } of indexes) await runner.query(indexdef.replace(' ON public.audit_events ', ' ON pg_temp.audit_events '));
    // 2% failures, spread over a day; every fifth row has an agent, every tenth an error code.
    await runner.query(
      `INSERT INTO pg_temp.audit_events (id, occurred_at, event, outcome, error_code, agent_uid)
        SELECT i, now() - (i || ' seconds')::interval * 4, CASE WHEN i % 3 = 0 THEN 'register' ELSE 'verify' END,
               CASE WHEN i % 50 = 0 THEN 'failure' ELSE 'success' END,
               CASE WHEN i % 10 = 0 THEN 'INVALID_SIGNATURE' END,
               CASE WHEN i % 5 = 0 THEN 'agent-' || (i % 400) END
          FROM generate_series(1, $1) AS i`,
      [ROWS],
    );
    await runner.query('ANALYZE pg_temp.audit_events');
  });

  afterAll(async () => {
    await runner?.rollbackTransaction().catch(() => undefined);
    await runner?.release();
    await t?.close();
  });

  it('the migrations created audit_events_outcome_idx on (outcome, occurred_at DESC, id DESC)', async () => {
    // On the test's session: on PGlite the app's pool is that one session.
    const [index] = await runner.query(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexname = 'audit_events_outcome_idx'`,
    );
    expect(index?.indexdef).toMatch(/ON public\.audit_events USING btree \(outcome, occurred_at DESC, id DESC\)$/);
  });

  it.each<[string, AuditFilter, string]>([
    ['outcome alone', { outcome: 'failure' }, 'audit_events_outcome_idx'],
    ['outcome alone, next page', { outcome: 'failure', beforeId: '5000' }, 'audit_events_outcome_idx'],
    ['outcome and a time window', { outcome: 'failure', from: new Date(Date.now() - 3_600_000), to: new Date() }, 'audit_events_outcome_idx'],
  ])('%s: one range scan of the index that starts with it, no sort', async (_name, filter, index) => {
    const plan = await planOf(runner, filter);
    expect(plan).toMatch(new RegExp(`Index Scan using ${index} on audit_events`));
    expect(plan).not.toMatch(/audit_events_occurred_at_idx|Seq Scan on audit_events|Sort/);
  });
});
