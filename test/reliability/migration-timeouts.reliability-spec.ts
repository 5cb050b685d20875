import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import type { Client } from 'pg';
import { buildDataSourceOptions } from '../../src/database/data-source.options';
import { MIGRATION_LOCK_KEY, runMigrationsLocked } from '../../src/database/migration-runner';
import { startTestApp, TestApp } from '../support/test-app';
import { ScratchDatabase } from './support/scratch-database';
import { sleep, waitFor } from './support/service-process';

/**
 * Migrations and the wait for the migration lock are not bound by the
 * request timeouts (DB_STATEMENT_TIMEOUT_MS, and pg's client-side
 * query_timeout a little above it), and the pooled connection they used
 * gets those timeouts back. In-process apps on a scratch database of the
 * shared PostgreSQL server: the lock needs a second session, which the
 * embedded PGlite (one session) does not have.
 */

// idle_in_transaction_session_timeout is twice this: 1s.
const TIMEOUT_MS = 500;
/** Longer than the statement timeout and the client-side one (TIMEOUT_MS + 500). */
const LONGER_MS = 1_600;

let db: ScratchDatabase;

beforeAll(async () => {
  db = await ScratchDatabase.create('vestauth_migration_timeouts');
}, 30_000);

afterAll(async () => {
  await db?.drop();
});

/** The sessions waiting for the migration lock, with when their wait began. */
async function waitingForMigrationLock(holder: Client): Promise<Array<{ pid: number; since: string }>> {
  const { rows } = await holder.query<{ pid: number; since: string }>(
    `SELECT a.pid, a.query_start::text AS since FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objid = $1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [MIGRATION_LOCK_KEY],
  );
  return rows;
}

describe('Migration session timeouts', () => {
  it('an app waits for the migration lock longer than DB_STATEMENT_TIMEOUT_MS, comes up, and requests keep the timeout', async () => {
    const holder = await db.connect();
    let app: TestApp | undefined;
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      let settled = false;
      const starting = startTestApp({ DATABASE_URL: db.url, DATABASE_SINGLE_SESSION: 'false', DB_STATEMENT_TIMEOUT_MS: String(TIMEOUT_MS) });
      starting.then(
        () => (settled = true),
        () => (settled = true),
      );
      expect(await waitFor(async () => (await waitingForMigrationLock(holder)).length === 1, 10_000, 25)).toBe(true);
      const before = await waitingForMigrationLock(holder);
      await sleep(LONGER_MS);
      expect(settled).toBe(false);
      // One uninterrupted wait: the same session, the same statement (not a timeout and a retry).
      expect(await waitingForMigrationLock(holder)).toEqual(before);
      await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
      app = await starting;

      const migrated = await db.query<{ n: string }>('SELECT count(*) AS n FROM migrations');
      expect(Number(migrated[0].n)).toBeGreaterThan(0);
      // Pool of one: the request path gets the very connection that migrated.
      const [{ statement_timeout }] = await app.dataSource.query('SHOW statement_timeout');
      expect(statement_timeout).toBe(`${TIMEOUT_MS}ms`);
      await expect(app.dataSource.query('SELECT pg_sleep($1)', [LONGER_MS / 1000])).rejects.toThrow(/statement timeout|timeout/i);
    } finally {
      await holder.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      await holder.end();
      await app?.close();
    }
  }, 20_000);

  it('a migration statement longer than the statement timeout completes, and the pooled connection gets the timeouts back', async () => {
    class SlowMigration9999999999999 implements MigrationInterface {
      name = 'SlowMigration9999999999999';
      async up(runner: QueryRunner): Promise<void> {
        await runner.query('SELECT pg_sleep($1)', [LONGER_MS / 1000]);
      }
      async down(): Promise<void> {}
    }
    const scratch = await ScratchDatabase.create('vestauth_slow_migration');
    const options = buildDataSourceOptions(
      { url: scratch.url, dataDir: '', poolSize: 1, connectTimeoutMs: 3_000, statementTimeoutMs: TIMEOUT_MS, singleSession: false },
      scratch.url,
    );
    const dataSource = await new DataSource({ ...options, migrations: [SlowMigration9999999999999] }).initialize();
    try {
      await runMigrationsLocked(dataSource);
      const applied: Array<{ name: string }> = await dataSource.query('SELECT name FROM migrations');
      expect(applied.map((m) => m.name)).toEqual(['SlowMigration9999999999999']);
      const [settings] = await dataSource.query(
        "SELECT current_setting('statement_timeout') AS statement, current_setting('idle_in_transaction_session_timeout') AS idle",
      );
      expect(settings).toEqual({ statement: `${TIMEOUT_MS}ms`, idle: '1s' });
      await expect(dataSource.query('SELECT pg_sleep($1)', [LONGER_MS / 1000])).rejects.toThrow(/timeout/i);
    } finally {
      await dataSource.destroy();
      await scratch.drop();
    }
  }, 20_000);
});
