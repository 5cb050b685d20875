import type { UsedNonceRepository } from './used-nonce.repository';
import { PostgresNonceStore } from './postgres-nonce-store';

describe('PostgresNonceStore purge at shutdown', () => {
  it('finishes the batch in progress and leaves the rest to the next purge, instead of deleting a whole backlog', async () => {
    let batches = 0;
    let release!: () => void;
    const firstBatch = new Promise<void>((resolve) => (release = resolve));
    // A backlog: every batch comes back full (5,000 rows).
    const repository = {
      purgeExpired: async (limit: number) => {
        batches++;
        if (batches === 1) await firstBatch;
        return limit;
      },
    } as unknown as UsedNonceRepository;
    const store = new PostgresNonceStore(repository, 60);

    const running = store.purge();
    const stopped = store.beforeApplicationShutdown();
    release();
    await stopped;

    await expect(running).resolves.toBe(5_000);
    expect(batches).toBe(1);
  });
});
