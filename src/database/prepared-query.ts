import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';

/** Data sources whose one session other clients share (embedded PGlite): statement names could collide there. */
const sharedSessions = new WeakSet<DataSource>();

/** Marks `dataSource` as one session shared with other clients: preparedQuery sends unnamed statements on it. */
export function markSharedSession(dataSource: DataSource): void {
  sharedSessions.add(dataSource);
}

/**
 * Runs a statement as a named prepared statement on TypeORM's own pg pool:
 * each connection parses and plans it once instead of on every call (about
 * 0.4 ms of PostgreSQL's time per call for the hot batch statements, which
 * are CTEs over a dozen unnest() arrays). `name` must be unique per `text`.
 * Errors are pg's own (isDatabaseUnavailable reads them as it reads
 * TypeORM's wrapped ones).
 */
export async function preparedQuery<T>(dataSource: DataSource, name: string, text: string, values: unknown[]): Promise<T[]> {
  const pool = pgPoolOf(dataSource);
  if (!pool || sharedSessions.has(dataSource)) return dataSource.query<T[]>(text, values);
  const result = await pool.query<T & object>({ name, text, values });
  return result.rows;
}

/** TypeORM's own pg pool behind a PostgreSQL DataSource (undefined before it is initialized). */
export function pgPoolOf(dataSource: DataSource): Pool | undefined {
  return (dataSource.driver as unknown as { master?: Pool }).master;
}
