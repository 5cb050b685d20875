import { rmSync } from 'node:fs';
import type { EmbeddedPostgres } from '../src/database/embedded-postgres';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as { __EMBEDDED__?: { embedded: EmbeddedPostgres; dir: string } }).__EMBEDDED__;
  if (!state) return;
  await state.embedded.stop();
  rmSync(state.dir, { recursive: true, force: true });
}
