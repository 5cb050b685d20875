import { KeyCachePolicy } from './key-cache-policy';
import type { VerificationOptions } from './verification-options';

function policyWith(keyCache: VerificationOptions['keyCache']): KeyCachePolicy {
  return new KeyCachePolicy({ keyCache } as VerificationOptions);
}

describe(KeyCachePolicy.name, () => {
  const keyCache = { ttlMs: 2_000, notifiedTtlMs: 300_000, maxEntries: 10, importedKeys: 10 };

  it('keeps entries only the short TTL until change notifications are known to be live', () => {
    const sut = policyWith(keyCache);

    expect(sut.ttlMs(sut.readStarted())).toBe(2_000);
  });

  it('keeps entries the long TTL while notifications are live', () => {
    const sut = policyWith(keyCache);
    sut.setNotified(true);

    expect(sut.ttlMs(sut.readStarted())).toBe(300_000);
  });

  it('gives a read that overlapped an eviction the short TTL: it may carry the state from before the change', () => {
    const sut = policyWith(keyCache);
    sut.setNotified(true);
    const started = sut.readStarted();
    sut.evicted();

    expect(sut.ttlMs(started)).toBe(2_000);
    expect(sut.ttlMs(sut.readStarted())).toBe(300_000);
  });

  it('goes back to the short TTL when the notifications are lost, for reads in flight too', () => {
    const sut = policyWith(keyCache);
    sut.setNotified(true);
    const inFlight = sut.readStarted();
    sut.setNotified(false);

    expect(sut.ttlMs(inFlight)).toBe(2_000);
    expect(sut.ttlMs(sut.readStarted())).toBe(2_000);
  });

  it('never shortens below KEY_CACHE_TTL_MS, and bounds the caches by the longer of the two', () => {
    const sut = policyWith({ ttlMs: 5_000, notifiedTtlMs: 1_000, maxEntries: 10, importedKeys: 10 });
    sut.setNotified(true);

    expect(sut.ttlMs(sut.readStarted())).toBe(5_000);
    expect(sut.maxTtlMs).toBe(5_000);
    expect(policyWith(keyCache).maxTtlMs).toBe(300_000);
  });

  it('is off when KEY_CACHE_TTL_MS is 0, and a service without notifications (forRoot) uses the short TTL', () => {
    expect(policyWith({ ttlMs: 0, notifiedTtlMs: 300_000, maxEntries: 10, importedKeys: 10 }).enabled).toBe(false);
    const withoutLongTtl = policyWith({ ttlMs: 2_000, maxEntries: 10, importedKeys: 10 });
    withoutLongTtl.setNotified(true);

    expect(withoutLongTtl.ttlMs(withoutLongTtl.readStarted())).toBe(2_000);
  });
});
