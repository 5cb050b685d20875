import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';

// Any constant: instances starting together take turns migrating.
const MIGRATION_LOCK_KEY = 0x76657374; // "vest"

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
    const pending = await dataSource.showMigrations();
    if (!pending) {
      logger.log('Schema is up to date');
      return;
    }
    const started = Date.now();
    const applied = await dataSource.runMigrations({ transaction: 'all' });
    for (const migration of applied) logger.log(`Applied ${migration.name}`);
    logger.log(`Applied ${applied.length} migration(s) in ${Date.now() - started} ms`);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await runner.release();
  }
}
