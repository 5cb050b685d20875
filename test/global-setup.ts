import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedPostgres } from '../src/database/embedded-postgres';

/**
 * Without DATABASE_URL the suite runs on the same embedded PGlite the app
 * uses by default. PGlite loads WASM through dynamic import(), which fails
 * inside Jest's module sandbox, so it is started here, outside it, and the
 * tests get an ordinary DATABASE_URL: postgres://…?host=<socket directory>,
 * a Unix socket in the private (0700) temporary directory, which pg and
 * psql understand (nothing listens on TCP).
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.DATABASE_URL) {
    process.env.TEST_DATABASE_KIND = 'postgresql';
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'vestauth-e2e-pglite-'));
  const embedded = new EmbeddedPostgres(dir, 40);
  process.env.DATABASE_URL = await embedded.start();
  process.env.TEST_DATABASE_KIND = 'pglite';
  (globalThis as { __EMBEDDED__?: { embedded: EmbeddedPostgres; dir: string } }).__EMBEDDED__ = { embedded, dir };
}
