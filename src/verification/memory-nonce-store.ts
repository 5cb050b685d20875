import { Logger } from '@nestjs/common';
import { RateLimitedError } from '../common/rate-limit/rate-limit.service';
import { NonceStore } from './nonce-store';

/**
 * For a service without a database: nonces in this process only. Replay
 * protection then holds per instance, not across instances; the module
 * says so in a warning at start.
 *
 * Memory is bounded (`maxEntries` live nonces), and a nonce cannot be
 * forgotten before its signature expires, so a full store refuses new
 * signatures (429 RATE_LIMITED) rather than forget one. One key may hold at
 * most `maxPerKey` of them (a quarter by default), so that a single agent
 * signing as fast as it can does not lock every other agent out; a service
 * open to many untrusted agents wants the PostgreSQL store.
 */
export class MemoryNonceStore extends NonceStore {
  private readonly seen = new Map<string, number>();
  private readonly perKey = new Map<string, number>();
  private lastEviction = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly maxEntries = 100_000,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
    private readonly maxPerKey = Math.max(1, Math.floor(maxEntries / 4)),
  ) {
    super();
    new Logger(MemoryNonceStore.name).warn(
      `Nonces are kept in memory (at most ${maxEntries} live, ${maxPerKey} per key): a signature replayed against another instance will not be detected. Configure a PostgreSQL nonce store for several instances.`,
    );
  }

  async consume(kid: string, nonce: string, keepUntilSeconds: number): Promise<boolean> {
    const now = this.nowSeconds();
    const key = `${kid}\u0000${nonce}`;
    const until = this.seen.get(key);
    if (until !== undefined && until >= now) return false;
    if (this.seen.size >= this.maxEntries || this.countOf(kid) >= this.maxPerKey) this.evictExpired(now);
    // Full of live nonces: refusing is safer than forgetting one.
    if (this.seen.size >= this.maxEntries) throw new RateLimitedError(60);
    if (this.countOf(kid) >= this.maxPerKey) throw new RateLimitedError(60);
    if (!this.seen.has(key)) this.perKey.set(kid, this.countOf(kid) + 1);
    this.seen.set(key, keepUntilSeconds);
    return true;
  }

  private countOf(kid: string): number {
    return this.perKey.get(kid) ?? 0;
  }

  /**
   * Forgets nonces whose keep-until second has passed (kept through that
   * second, as in PostgreSQL). A full pass over the map, so at most once a
   * second: a client hammering a full store cannot make every request pay it.
   */
  private evictExpired(now: number): void {
    if (now <= this.lastEviction) return;
    this.lastEviction = now;
    for (const [key, until] of this.seen) {
      if (until >= now) continue;
      this.seen.delete(key);
      const kid = key.slice(0, key.indexOf('\u0000'));
      const left = this.countOf(kid) - 1;
      if (left > 0) this.perKey.set(kid, left);
      else this.perKey.delete(kid);
    }
  }
}
