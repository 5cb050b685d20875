import { Logger } from '@nestjs/common';
import { DomainError } from '../common/errors/domain-error';
import type { AuditEntry } from '../audit/audit-entry';
import { checkSignatureParams, DEFAULT_SIGNATURE_POLICY } from './core/signature-policy';
import type { SignatureParams } from './core/signature-headers';
import { Clock } from './clock';
import { MemoryNonceStore } from './memory-nonce-store';
import { NONCE_RETENTION_MARGIN_SECONDS, NonceStore } from './nonce-store';
import { InspectedSignature, SignatureVerifier } from './signature-verifier';
import type { VerificationAuditSink } from './verification-audit';
import type { VerificationOptions } from './verification-options';

const EXPIRES = 1_795_779_440;
const M = NONCE_RETENTION_MARGIN_SECONDS;

/** Records what the verifier asks a store to keep. */
class RecordingStore extends NonceStore {
  readonly kept: number[] = [];
  async consume(_kid: string, _nonce: string, keepUntilSeconds: number): Promise<boolean> {
    this.kept.push(keepUntilSeconds);
    return true;
  }
}

function verifierWith(store: NonceStore, clockSkewSeconds: number): SignatureVerifier {
  return new SignatureVerifier({ clockSkewSeconds } as VerificationOptions, new Clock(), store);
}

function inspected(expires: number, nonce = 'n'.repeat(86)): InspectedSignature {
  return { parsed: { params: { expires, nonce } } } as unknown as InspectedSignature;
}

/** The last whole second in which the expiry check still accepts the signature. */
function lastAcceptedSecond(expires: number, clockSkewSeconds: number): number {
  const params: SignatureParams = { created: expires - 300, expires, keyid: 'k', alg: 'ed25519', nonce: 'n', tag: 'web-bot-auth' };
  const policy = { ...DEFAULT_SIGNATURE_POLICY, clockSkewSeconds };
  const accepts = (now: number): boolean => {
    try {
      checkSignatureParams(params, policy, now);
      return true;
    } catch {
      return false;
    }
  };
  let now = expires;
  while (accepts(now + 1)) now++;
  expect(accepts(now)).toBe(true);
  return now;
}

/** used-nonce.repository.ts purges a row when `expires_at < now()` on the database clock. */
const purgedAt = (keepUntil: number, databaseNow: number): boolean => keepUntil < databaseNow;

describe('nonce retention', () => {
  it.each([0, 30, 300])('keeps the nonce until the margin after the end of the last accepted second (skew %i s)', async (skew) => {
    const store = new RecordingStore();
    await verifierWith(store, skew).consumeNonce('kid', inspected(EXPIRES));
    const [keepUntil] = store.kept;
    const last = lastAcceptedSecond(EXPIRES, skew);
    // An instance accepts until the end of second `last` on its own clock,
    // which is up to M seconds later on a database clock it lags behind.
    const lastAcceptingInstant = last + 1;
    expect(purgedAt(keepUntil, lastAcceptingInstant)).toBe(false);
    expect(purgedAt(keepUntil, lastAcceptingInstant + M)).toBe(false);
    expect(purgedAt(keepUntil, lastAcceptingInstant + M + 1)).toBe(true); // not kept forever
  });

  it('keeps the same time when the nonce and the audit row are written together', async () => {
    const store = new RecordingStore();
    const sink = { record: jest.fn(async () => undefined) } as unknown as VerificationAuditSink;
    await verifierWith(store, 30).consumeNonceAndRecord('kid', inspected(EXPIRES), {} as AuditEntry, sink);
    expect(store.kept).toEqual([NonceStore.keepUntil(EXPIRES, 30)]);
    expect(store.kept[0]).toBe(lastAcceptedSecond(EXPIRES, 30) + 1 + M);
  });

  it('uses a margin that covers NTP-level and badly drifting clocks without keeping rows much longer', () => {
    expect(M).toBeGreaterThanOrEqual(5);
    expect(M).toBeLessThanOrEqual(300);
  });
});

describe(MemoryNonceStore.name, () => {
  let now: number;
  beforeAll(() => Logger.overrideLogger(false)); // its per-instance warning
  const make = (maxEntries?: number) => new MemoryNonceStore(maxEntries, () => now);

  it('refuses a replay checked in the last accepted second whose nonce is consumed after it', async () => {
    const last = lastAcceptedSecond(EXPIRES, 30);
    const verifier = verifierWith(make(), 30);
    now = last;
    await verifier.consumeNonce('kid', inspected(EXPIRES));
    // The replay passed the expiry check at `last`; its consume runs a moment later, in the next second.
    now = last + 1;
    await expect(verifier.consumeNonce('kid', inspected(EXPIRES))).rejects.toEqual(expect.objectContaining({ name: DomainError.name, code: 'REPLAYED_NONCE' }));
    now = last + 1 + M;
    await expect(verifier.consumeNonce('kid', inspected(EXPIRES))).rejects.toEqual(expect.objectContaining({ code: 'REPLAYED_NONCE' }));
  });

  const rateLimited = expect.objectContaining({ name: DomainError.name, code: 'RATE_LIMITED' });

  it('keeps a nonce through its keep-until second and forgets it after', async () => {
    const sut = make(1);
    now = 1000;
    expect(await sut.consume('kid', 'a', 1010)).toBe(true);
    now = 1010;
    expect(await sut.consume('kid', 'a', 1020)).toBe(false);
    await expect(sut.consume('kid', 'b', 1020)).rejects.toEqual(rateLimited); // full of live nonces: refused, not forgotten
    now = 1011;
    expect(await sut.consume('kid', 'b', 1020)).toBe(true); // 'a' evicted
    await expect(sut.consume('kid', 'a', 1020)).rejects.toEqual(rateLimited); // full again
  });

  it('lets one key hold at most its share, so that it cannot lock the other keys out', async () => {
    const sut = new MemoryNonceStore(8, () => now, 2);
    now = 2000;
    expect(await sut.consume('greedy', 'n1', 2100)).toBe(true);
    expect(await sut.consume('greedy', 'n2', 2100)).toBe(true);
    await expect(sut.consume('greedy', 'n3', 2100)).rejects.toEqual(rateLimited);
    for (const kid of ['k1', 'k2', 'k3']) expect(await sut.consume(kid, 'n', 2100)).toBe(true);
    expect(await sut.consume('greedy', 'n1', 2100)).toBe(false); // still a replay, not a 429
    now = 2101;
    expect(await sut.consume('greedy', 'n3', 2200)).toBe(true); // its old nonces expired: its share is free again
  });
});
