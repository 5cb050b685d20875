import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { fail } from '../common/errors/domain-error';
import { GroupCommit } from '../common/batching/group-commit';
import { isDatabaseUnavailable } from '../common/filters/database-errors';
import { PublicKeyRepository } from '../agents/public-key.repository';
import type { StoredPublicJwk } from '../agents/entities/public-key.entity';
import { KeyInvalidation } from '../verification/key-invalidation';
import { VerificationOptions } from '../verification/verification-options';
import { KeyCachePolicy } from '../verification/key-cache-policy';
import type { KeyDirectory } from './dto/key-directory.dto';

/**
 * Directories are read far more often than keys change: each is cached
 * like a key (LRU, KeyCachePolicy's TTL), evicted at once on rotation,
 * revocation or disabling here and, through LISTEN/NOTIFY, in the other
 * instances. Unknown agents are not cached.
 */
@Injectable()
export class DiscoveryService {
  /** Serialized: a string is a third of the memory of the object, and the hot route sends it as it is. */
  private readonly cache?: LRUCache<string, string>;
  /** Misses of concurrent requests share one query. */
  private readonly reads = new GroupCommit<string, StoredPublicJwk[] | undefined>((uids) => this.keys.findManyPublishedKeys(uids), 256, 4, isDatabaseUnavailable);

  constructor(
    private readonly keys: PublicKeyRepository,
    options: VerificationOptions,
    invalidation: KeyInvalidation,
    private readonly policy: KeyCachePolicy,
  ) {
    if (policy.enabled) {
      const cache = new LRUCache<string, string>({ max: options.keyCache.maxEntries, ttl: policy.maxTtlMs });
      this.cache = cache;
      invalidation.subscribe((change) => {
        if (change === 'all') cache.clear();
        else if (change.uid) cache.delete(change.uid);
      });
    }
  }

  /** The active keys of an active agent; unknown and disabled agents are 404 alike. */
  async directory(uid: string): Promise<KeyDirectory> {
    return JSON.parse(await this.directoryJson(uid)) as KeyDirectory;
  }

  /** directory(uid), serialized. */
  async directoryJson(uid: string): Promise<string> {
    const cached = this.cache?.get(uid);
    if (cached) return cached;
    const started = this.policy.readStarted();
    const keys = await this.reads.submit(uid);
    if (!keys) fail('UNKNOWN_AGENT', 'unknown agent');
    const json = JSON.stringify(toDirectory(keys));
    this.cache?.set(uid, json, { ttl: this.policy.ttlMs(started) });
    return json;
  }
}

/** Exactly `{"keys":[{kty,crv,x,kid}…]}`: nothing but the canonical public members. */
export function toDirectory(keys: readonly StoredPublicJwk[]): KeyDirectory {
  return { keys: keys.map(({ kty, crv, x, kid }) => ({ kty, crv, x, kid })) };
}
