import { Injectable } from '@nestjs/common';
import { VerificationOptions } from './verification-options';

/**
 * How long the authority may keep a key row or a key directory in memory.
 *
 * Every change that can make a cached entry wrong (rotation, revocation,
 * disabling) evicts it in this process at once and in the others through
 * LISTEN/NOTIFY (KeyInvalidation). While that channel is known to be live
 * (its heartbeat answers within half of KEY_CACHE_TTL_MS, or this process
 * is the database's only user: the embedded default), entries may stay for
 * KEY_CACHE_NOTIFIED_TTL_MS: a silently dead channel is noticed, and the
 * cache cleared, within KEY_CACHE_TTL_MS. Otherwise entries live
 * KEY_CACHE_TTL_MS, the staleness bound without notifications.
 *
 * A read that was in flight while an eviction happened may carry the state
 * from before it: such an entry gets the short TTL too (`generation`).
 */
@Injectable()
export class KeyCachePolicy {
  /** Bumped by every eviction. */
  private generation = 0;
  /** Whether evictions from every writer are known to reach this process at once. */
  private notified = false;

  constructor(private readonly options: VerificationOptions) {}

  /** Whether caching is on at all (KEY_CACHE_TTL_MS=0 turns it off). */
  get enabled(): boolean {
    return this.options.keyCache.ttlMs > 0;
  }

  /** The longest TTL any entry can get: the caches' own bound. */
  get maxTtlMs(): number {
    return Math.max(1, this.options.keyCache.ttlMs, this.longTtlMs);
  }

  /** Taken before a database read; pass it to ttlMs() when caching the result. */
  readStarted(): number {
    return this.generation;
  }

  /** The TTL for an entry read from the database after `readStarted()` returned `started`. */
  ttlMs(started: number): number {
    if (this.notified && started === this.generation) return Math.max(this.options.keyCache.ttlMs, this.longTtlMs);
    return this.options.keyCache.ttlMs;
  }

  /** Called by KeyInvalidation with every eviction, before the caches drop the entries. */
  evicted(): void {
    this.generation++;
  }

  /** Called by KeyInvalidation when the channel comes up (true) or is lost (false; the caches are cleared at the same time). */
  setNotified(notified: boolean): void {
    this.notified = notified;
    this.generation++;
  }

  private get longTtlMs(): number {
    return this.options.keyCache.notifiedTtlMs ?? 0;
  }
}
