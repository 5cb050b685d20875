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
    private readonly now: () => number = Date.now,
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

  private refill(key: string): Bucket {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.perMinute, updatedMs: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + ((now - bucket.updatedMs) / 60_000) * this.perMinute);
    bucket.updatedMs = now;
    this.buckets.set(key, bucket);
    return bucket;
  }
}
