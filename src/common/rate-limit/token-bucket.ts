import { LRUCache } from 'lru-cache';

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * Token buckets by key (e.g. client IP): `perMinute` tokens, refilled
 * continuously. Bounded: the least recently seen keys are forgotten first,
 * which can only make a limit more lenient, never lock someone out.
 */
export class TokenBuckets {
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(
    private readonly perMinute: number,
    maxKeys = 100_000,
    // Monotonic: a wall clock stepping back must neither refill nor lock anyone out.
    private readonly now: () => number = () => performance.now(),
  ) {
    this.buckets = new LRUCache<string, Bucket>({ max: maxKeys });
  }

  get enabled(): boolean {
    return this.perMinute > 0;
  }

  /** Seconds until one token is available for `key` (0: a request may go now). */
  waitSeconds(key: string): number {
    if (!this.enabled) return 0;
    const bucket = this.refill(key);
    return bucket.tokens >= 1 ? 0 : Math.ceil(((1 - bucket.tokens) * 60) / this.perMinute);
  }

  /** Takes one token; returns the wait in seconds when there was none (nothing taken then). */
  take(key: string): number {
    if (!this.enabled) return 0;
    const bucket = this.refill(key);
    if (bucket.tokens < 1) return Math.ceil(((1 - bucket.tokens) * 60) / this.perMinute);
    bucket.tokens -= 1;
    return 0;
  }

  /**
   * Charges one token for something already done (a failure found after
   * the check that let it in): with none left the bucket goes into debt, down
   * to one minute's budget, so that requests that were all in flight when it
   * ran out are paid for by a longer wait instead of going free.
   */
  charge(key: string): void {
    if (!this.enabled) return;
    const bucket = this.refill(key);
    bucket.tokens = Math.max(-this.perMinute, bucket.tokens - 1);
  }

  private refill(key: string): Bucket {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.perMinute, updatedMs: now };
    // A clock that went back (an injected one) refills nothing for that step, and refill goes on from there.
    const elapsed = Math.max(0, now - bucket.updatedMs);
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (elapsed / 60_000) * this.perMinute);
    bucket.updatedMs = now;
    this.buckets.set(key, bucket);
    return bucket;
  }
}
