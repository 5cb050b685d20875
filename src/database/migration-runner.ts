import { Logger } from '@nestjs/common';
import { DataSource, MigrationExecutor } from 'typeorm';

// Any constant: instances starting together take turns migrating. Exported
// for test/reliability, which holds it to make two starts meet at the lock.
export const MIGRATION_LOCK_KEY = 0x76657374; // "vest"

/**
 * Runs pending migrations, all in one transaction, while holding a
 * PostgreSQL advisory lock so that several instances starting at once do
 * not race each other.
 */
export async function runMigrationsLocked(dataSource: DataSource): Promise<void> {
  const logger = new Logger('Migrations');
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
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
    await runner.release();
  }
}
