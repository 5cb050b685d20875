import { Logger } from '@nestjs/common';
import { NonceStore } from './nonce-store';

/**
 * For a service without a database: nonces in this process only. Replay
 * protection then holds per instance, not across instances; the module
 * says so in a warning at start.
 */
export class MemoryNonceStore extends NonceStore {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly maxEntries = 100_000,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {
    super();
    new Logger(MemoryNonceStore.name).warn(
      'Nonces are kept in memory: a signature replayed against another instance will not be detected. Configure a PostgreSQL nonce store for several instances.',
    );
  }

  async consume(kid: string, nonce: string, keepUntilSeconds: number): Promise<boolean> {
    const now = this.nowSeconds();
    const key = `${kid}\u0000${nonce}`;
    const until = this.seen.get(key);
    if (until !== undefined && until >= now) return false;
    if (this.seen.size >= this.maxEntries) this.evictExpired(now);
    // Full of live nonces: refusing is safer than forgetting one.
    if (this.seen.size >= this.maxEntries) return false;
    this.seen.set(key, keepUntilSeconds);
    return true;
  }

  /** Forgets nonces whose keep-until second has passed (kept through that second, as in PostgreSQL). */
  private evictExpired(now: number): void {
    for (const [key, until] of this.seen) if (until < now) this.seen.delete(key);
  }
}
