import { KeyObject } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { fail } from '../common/errors/domain-error';
import { GroupCommit } from '../common/batching/group-commit';
import { isDatabaseUnavailable } from '../common/filters/database-errors';
import { KeyWithAgent, PublicKeyRepository } from '../agents/public-key.repository';
import type { SignatureAgentRef } from './core/signature-agent';
import { agentUidFromHost } from './core/agent-host';
import { importPublicJwk } from './core/jwk';
import { KeyResolver, ResolvedKey, WELL_KNOWN_DIRECTORY_PATH } from './key-resolver';
import { VerificationOptions } from './verification-options';
import { KeyCachePolicy } from './key-cache-policy';

// A kid is the thumbprint of its key: the key material behind a kid never
// changes, so an imported KeyObject outlives its status row's TTL. Each holds
// about 1 KB of OpenSSL memory outside the V8 heap, so fewer are kept than
// rows: beyond them a key is imported again from its cached row (~30 µs).
const KEY_OBJECTS_MAX = 20_000;

/**
 * Our own agents: the key row (with its agent's status) by primary key,
 * behind an LRU. A rotation, revocation or disabling evicts at once here and
 * in the other instances (LISTEN/NOTIFY); how long entries may live
 * otherwise is KeyCachePolicy's decision.
 */
@Injectable()
export class LocalKeyResolver extends KeyResolver {
  private readonly cache: LRUCache<string, KeyWithAgent>;
  private readonly keyObjects = new LRUCache<string, KeyObject>({ max: KEY_OBJECTS_MAX });
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
    this.cache = new LRUCache<string, KeyWithAgent>({
      max: options.keyCache.maxEntries,
      ttl: policy.maxTtlMs,
      ttlAutopurge: false,
    });
  }

  /** The uid when `agent` names one of our agent hosts, else undefined. */
  localUid(agent: SignatureAgentRef): string | undefined {
    const local = this.options.local;
    if (!local || agent.scheme !== local.scheme) return undefined;
    return agentUidFromHost(agent.authority, local.authority);
  }

  async resolve(agent: SignatureAgentRef, keyid: string): Promise<ResolvedKey> {
    const uid = this.localUid(agent);
    if (!uid) fail('UNTRUSTED_SIGNATURE_AGENT', 'untrusted signature agent');
    const row = await this.lookup(keyid);
    // A key of another agent is unknown to this one: the uid comes from our
    // key-to-agent mapping, never from the unsigned header alone.
    if (!row || row.agentUid !== uid) fail('UNKNOWN_KEY', 'unknown key');
    if (row.agentStatus !== 'active') fail('AGENT_DISABLED', 'agent is disabled');
    if (row.keyStatus !== 'active') fail('REVOKED_KEY', 'key has been revoked');
    return {
      uid,
      kid: row.kid,
      publicJwk: { ...row.jwk },
      key: this.keyObjectOf(row),
      wellKnownUrl: `${this.options.local!.scheme}://${uid}.${this.options.local!.authority}${WELL_KNOWN_DIRECTORY_PATH}`,
    };
  }

  /** Forget a key (rotation, revocation) or, without kid, every key of the agent. */
  invalidate(filter: { kid?: string; agentUid?: string }): void {
    if (filter.kid) this.cache.delete(filter.kid);
    if (filter.agentUid) {
      for (const [kid, entry] of this.cache.entries()) {
        if (entry.agentUid === filter.agentUid) this.cache.delete(kid);
      }
    }
  }

  clear(): void {
    this.cache.clear();
  }

  private keyObjectOf(row: KeyWithAgent): KeyObject {
    let key = this.keyObjects.get(row.kid);
    if (!key) {
      key = importPublicJwk(row.jwk);
      this.keyObjects.set(row.kid, key);
    }
    return key;
  }

  private async lookup(kid: string): Promise<KeyWithAgent | undefined> {
    const hit = this.policy.enabled ? this.cache.get(kid) : undefined;
    if (hit) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const started = this.policy.readStarted();
    const row = await this.reads.submit(kid);
    if (!row) return undefined;
    if (this.policy.enabled) this.cache.set(kid, row, { ttl: this.policy.ttlMs(started) });
    return row;
  }
}
