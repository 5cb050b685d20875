import { Logger } from '@nestjs/common';
import { DataSource, MigrationExecutor, QueryRunner } from 'typeorm';

// Any constant: instances starting together take turns migrating. Exported
// for test/reliability, which holds it to make two starts meet at the lock.
export const MIGRATION_LOCK_KEY = 0x76657374; // "vest"

/** While an instance waits for the lock, a line this often says so. */
const LOCK_WAIT_LOG_INTERVAL_MS = 10_000;

/**
 * The session settings that bound request-path statements
 * (data-source.options.ts). Migrations and the wait for the lock must not be
 * bound by them: a CREATE INDEX on a large table takes longer than any
 * request may, and so does another instance's migration.
 */
const SESSION_TIMEOUTS = ['statement_timeout', 'idle_in_transaction_session_timeout'] as const;

/** The pg client-side read timeout (`query_timeout`), which sits on the client's connection parameters. */
interface PgClientTimeouts {
  connectionParameters?: { query_timeout?: number | false };
}

/**
 * Runs pending migrations, all in one transaction, while holding a
 * PostgreSQL advisory lock so that several instances starting at once do
 * not race each other. The session runs without the request timeouts
 * (statement_timeout, idle_in_transaction_session_timeout, pg's
 * query_timeout) and gets them back before it returns to the pool; if they
 * cannot be restored, the connection is discarded instead.
 */
export async function runMigrationsLocked(dataSource: DataSource): Promise<void> {
  const logger = new Logger('Migrations');
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  const client = (runner as unknown as { databaseConnection?: PgClientTimeouts }).databaseConnection;
  const params = client?.connectionParameters;
  const clientTimeout = params?.query_timeout;
  let restored: Array<{ name: string; setting: string }> | undefined;
  let broken: Error | undefined;
  try {
    restored = await liftTimeouts(runner);
    if (params) params.query_timeout = false;
    await takeLock(runner, logger);
    // The same connection throughout: with a pool of one (embedded) a second
    // connection would wait for this one forever.
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'all';
    const pending = await executor.getPendingMigrations();
    if (pending.length === 0) {
      logger.log('Schema is up to date');
      return;
    }
    logger.log(`Applying ${pending.length} migration(s)`);
    const started = Date.now();
    const applied = await executor.executePendingMigrations();
    for (const migration of applied) logger.log(`Applied ${migration.name}`);
    logger.log(`Applied ${applied.length} migration(s) in ${Date.now() - started} ms`);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    if (params) params.query_timeout = clientTimeout;
    try {
      for (const { name, setting } of restored ?? []) {
        await runner.query('SELECT set_config($1, $2, false)', [name, setting]);
      }
    } catch (error) {
      broken = error instanceof Error ? error : new Error(String(error));
    }
    // Settings not known (lifting them failed part way): never back to the pool.
    if (!restored) broken ??= new Error('Migration session settings unknown');
    await release(runner, broken);
  }
}

/** Turns the request timeouts off on this session; returns their values, to put back. */
async function liftTimeouts(runner: QueryRunner): Promise<Array<{ name: string; setting: string }>> {
  const rows: Array<{ name: string; setting: string }> = await runner.query(
    'SELECT name, current_setting(name) AS setting FROM unnest($1::text[]) AS name',
    [SESSION_TIMEOUTS],
  );
  for (const name of SESSION_TIMEOUTS) await runner.query('SELECT set_config($1, $2, false)', [name, '0']);
  return rows;
}

/** Takes the migration lock, waiting as long as it takes, and says so while it waits. */
async function takeLock(runner: QueryRunner, logger: Logger): Promise<void> {
  const [{ locked }]: Array<{ locked: boolean }> = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [MIGRATION_LOCK_KEY]);
  if (locked) return;
  const started = Date.now();
  logger.log('Waiting for the migration lock: another instance is migrating the database');
  const timer = setInterval(
    () => logger.log(`Still waiting for the migration lock (${Math.round((Date.now() - started) / 1000)} s)`),
    LOCK_WAIT_LOG_INTERVAL_MS,
  );
  timer.unref();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  } finally {
    clearInterval(timer);
  }
  logger.log(`Took the migration lock after ${Date.now() - started} ms`);
}

/** Back to the pool, or, with `error`, closed (pg-pool discards a client released with an error). */
async function release(runner: QueryRunner, error: Error | undefined): Promise<void> {
  if (!error) return runner.release();
  const discard = (runner as unknown as { releasePostgresConnection?: (err: Error) => Promise<void> }).releasePostgresConnection;
  if (discard) return discard.call(runner, error);
  return runner.release();
}
