import { KeyObject } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { fail } from '../common/errors/domain-error';
import { GroupCommit } from '../common/batching/group-commit';
import { isDatabaseUnavailable } from '../common/filters/database-errors';
import { KeyWithAgent, PublicKeyRepository } from '../agents/public-key.repository';
import type { StoredPublicJwk } from '../agents/entities/public-key.entity';
import type { SignatureAgentRef } from './core/signature-agent';
import { agentUidFromHost } from './core/agent-host';
import { normalizeAuthority } from './request-view';
import { importPublicJwk } from './core/jwk';
import { ed25519JwkXWeakness } from './core/ed25519-key-strength';
import { KeyResolver, ResolvedKey, WELL_KNOWN_DIRECTORY_PATH } from './key-resolver';
import { VerificationOptions } from './verification-options';
import { KeyCachePolicy } from './key-cache-policy';


/**
 * What is kept per kid: the agent, both statuses and the public key's `x`.
 * Every stored key is Ed25519 (StoredPublicJwk), so the JWK is rebuilt from
 * `x`; this is about a third less heap than the row, which matters with
 * 100,000 agents cached.
 */
interface CachedKey {
  agentUid: string;
  x: string;
  keyActive: boolean;
  agentActive: boolean;
  /**
   * A key stored before registration refused small-order and non-canonical
   * Ed25519 keys (anyone can sign for those): never verifies. Checked once
   * per read, not per request.
   */
  weak?: true;
  /** The policy's generation when the row was read (or written): see agentEvictions. */
  since: number;
}

/** Agents evicted by uid that are remembered; beyond, the whole cache is cleared instead. */
const MAX_AGENT_EVICTIONS = 10_000;

/**
 * Our own agents: the key (with its agent's status) by primary key,
 * behind an LRU. A rotation, revocation or disabling evicts at once here and
 * in the other instances (LISTEN/NOTIFY); how long entries may live
 * otherwise is KeyCachePolicy's decision.
 */
@Injectable()
export class LocalKeyResolver extends KeyResolver {
  private readonly cache: LRUCache<string, CachedKey>;
  /**
   * A kid is the thumbprint of its key: the key material behind a kid never
   * changes, so an imported KeyObject outlives its status row's TTL. Each
   * holds ~0.7 KB of OpenSSL memory outside the V8 heap, so by default fewer
   * are kept than rows (KEY_CACHE_IMPORTED_KEYS); beyond them a key is
   * imported again from its cached `x` (~4 µs, and garbage for the collector).
   */
  private readonly keyObjects: LRUCache<string, KeyObject>;
  /**
   * Evictions by agent: uid → the policy's generation after the eviction.
   * An entry of that agent read before it is a miss. This makes a
   * disabling O(1) whatever the cache holds: a bulk change of many agents
   * (one notification per agent) must not walk 100,000 entries per agent.
   */
  private readonly agentEvictions = new Map<string, number>();
  /** Cache misses of concurrent requests share one query. */
  private readonly reads = new GroupCommit<string, KeyWithAgent | null>((kids) => this.keys.findManyWithAgent(kids), 256, 4, isDatabaseUnavailable);
  hits = 0;
  misses = 0;

  constructor(
    private readonly keys: PublicKeyRepository,
    private readonly options: VerificationOptions,
    private readonly policy: KeyCachePolicy,
  ) {
    super();
    this.keyObjects = new LRUCache<string, KeyObject>({ max: options.keyCache.importedKeys });
    this.cache = new LRUCache<string, CachedKey>({
      max: options.keyCache.maxEntries,
      ttl: policy.maxTtlMs,
      ttlAutopurge: false,
    });
  }

  /**
   * The uid when `agent` names one of our agent hosts, else undefined. A
   * legacy value without scheme names a host, not an origin (DESIGN.md
   * section 2): it is ours whatever our scheme, as nothing is fetched for a
   * local agent. An explicit scheme must be ours.
   */
  localUid(agent: SignatureAgentRef): string | undefined {
    const local = this.options.local;
    if (!local) return undefined;
    if (agent.schemelessAuthority !== undefined) {
      return agentUidFromHost(normalizeAuthority(agent.schemelessAuthority, local.scheme), local.authority);
    }
    if (agent.scheme !== local.scheme) return undefined;
    return agentUidFromHost(agent.authority, local.authority);
  }

  async resolve(agent: SignatureAgentRef, keyid: string): Promise<ResolvedKey> {
    const uid = this.localUid(agent);
    if (!uid) fail('UNTRUSTED_SIGNATURE_AGENT', 'untrusted signature agent');
    const cached = await this.lookup(keyid);
    // A key of another agent is unknown to this one: the uid comes from our
    // key-to-agent mapping, never from the unsigned header alone.
    if (!cached || cached.agentUid !== uid) fail('UNKNOWN_KEY', 'unknown key');
    if (!cached.agentActive) fail('AGENT_DISABLED', 'agent is disabled');
    if (!cached.keyActive) fail('REVOKED_KEY', 'key has been revoked');
    if (cached.weak) fail('UNKNOWN_KEY', 'unknown key', { reason: 'weak_key' });
    // In the member order PostgreSQL's jsonb gives the stored JWK (as answered before this cache kept only x).
    const jwk: StoredPublicJwk = { x: cached.x, crv: 'Ed25519', kid: keyid, kty: 'OKP' };
    return {
      uid,
      kid: keyid,
      publicJwk: { ...jwk },
      key: this.keyObjectOf(jwk),
      wellKnownUrl: `${this.options.local!.scheme}://${uid}.${this.options.local!.authority}${WELL_KNOWN_DIRECTORY_PATH}`,
    };
  }

  /** Taken before a registration's write; pass it to cacheRegistered() once the write committed. */
  writeStarted(): number {
    return this.policy.readStarted();
  }

  /**
   * Caches a key this process has just registered (its row committed,
   * active, with a new active agent), so that the agent's first signed
   * request needs no read. Like a read, it gets the short TTL when an
   * eviction happened since `started`.
   */
  cacheRegistered(kid: string, agentUid: string, x: string, started: number): void {
    this.remember(kid, { agentUid, x, keyActive: true, agentActive: true, since: started }, started);
  }

  /**
   * Forget a key (rotation, revocation) or, without kid, every key of the
   * agent. Called after KeyCachePolicy.evicted(), so entries of the agent
   * read before this call carry an older generation.
   */
  invalidate(filter: { kid?: string; agentUid?: string }): void {
    if (filter.kid) this.cache.delete(filter.kid);
    if (filter.agentUid) {
      if (this.agentEvictions.size >= MAX_AGENT_EVICTIONS) this.clear();
      this.agentEvictions.delete(filter.agentUid);
      this.agentEvictions.set(filter.agentUid, this.policy.readStarted());
    }
  }

  clear(): void {
    this.cache.clear();
    this.agentEvictions.clear();
  }

  private keyObjectOf(jwk: StoredPublicJwk): KeyObject {
    let key = this.keyObjects.get(jwk.kid);
    if (!key) {
      key = importPublicJwk(jwk);
      this.keyObjects.set(jwk.kid, key);
    }
    return key;
  }

  private async lookup(kid: string): Promise<CachedKey | undefined> {
    const hit = this.policy.enabled ? this.cached(kid) : undefined;
    if (hit) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const started = this.policy.readStarted();
    const row = await this.reads.submit(kid);
    if (!row) return undefined;
    const entry: CachedKey = { agentUid: row.agentUid, x: row.jwk.x, keyActive: row.keyStatus === 'active', agentActive: row.agentStatus === 'active', since: started };
    if (ed25519JwkXWeakness(row.jwk.x) !== undefined) entry.weak = true;
    this.remember(kid, entry, started);
    return entry;
  }

  /** The cached entry, unless its agent was evicted after it was read. */
  private cached(kid: string): CachedKey | undefined {
    const entry = this.cache.get(kid);
    if (entry === undefined || this.agentEvictions.size === 0) return entry;
    const evictedAt = this.agentEvictions.get(entry.agentUid);
    if (evictedAt === undefined || entry.since >= evictedAt) return entry;
    this.cache.delete(kid);
    return undefined;
  }

  /** Caches what was read or written after the policy's generation was `started` (the TTL is the policy's decision). */
  private remember(kid: string, entry: CachedKey, started: number): void {
    if (this.policy.enabled) this.cache.set(kid, entry, { ttl: this.policy.ttlMs(started) });
  }
}
