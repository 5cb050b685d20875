import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { RowHash } from './audit-seal.repository';

export const GENESIS_HASH = Buffer.alloc(32);
const ENTRY_BYTES = 16;

/** Packs (id, short hash) pairs: 8-byte big-endian id, then the 8-byte hash. */
export function packEntries(rows: readonly RowHash[]): Buffer {
  const out = Buffer.alloc(rows.length * ENTRY_BYTES);
  rows.forEach((row, i) => {
    out.writeBigUInt64BE(BigInt(row.id), i * ENTRY_BYTES);
    row.hash.copy(out, i * ENTRY_BYTES + 8, 0, 8);
  });
  return out;
}

export function unpackEntries(entries: Buffer): RowHash[] {
  const rows: RowHash[] = [];
  for (let offset = 0; offset + ENTRY_BYTES <= entries.length; offset += ENTRY_BYTES) {
    rows.push({ id: entries.readBigUInt64BE(offset).toString(), hash: entries.subarray(offset + 8, offset + ENTRY_BYTES) });
  }
  return rows;
}

/**
 * The seal hash: keyed (HMAC-SHA256) when AUDIT_SEAL_KEY is set, so someone
 * with write access to the database alone cannot rebuild the chain.
 */
export function sealHash(key: Buffer | undefined, prevHash: Buffer, firstId: string, lastId: string, entries: Buffer): Buffer {
  const mac = key ? createHmac('sha256', key) : createHash('sha256');
  return mac.update(prevHash).update(`${firstId}:${lastId}:`).update(entries).digest();
}

/**
 * What a retention purge records about the head it removed: a MAC over the
 * last purged event id and the hash of the last purged seal, which the first
 * remaining seal must chain from. Keyed like the seals, under a key derived
 * for this purpose only (the sealer never MACs under it), so a database
 * writer can neither compute it nor get the service to compute it.
 */
export function purgeMac(key: Buffer | undefined, throughId: string, throughHash: Buffer): Buffer {
  const mac = key ? createHmac('sha256', createHmac('sha256', key).update('audit-purge').digest()) : createHash('sha256').update('audit-purge:');
  return mac.update(`${throughId}:`).update(throughHash).digest();
}

export function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export type RangeCheck = { ok: true } | { ok: false; brokenId: string; reason: 'altered' | 'deleted' | 'inserted' };

/** Compares the sealed entries with the events now in the range, in id order. */
export function compareRange(sealed: readonly RowHash[], current: readonly RowHash[]): RangeCheck {
  let i = 0;
  let j = 0;
  while (i < sealed.length || j < current.length) {
    const s = sealed[i];
    const c = current[j];
    if (!c || (s && BigInt(s.id) < BigInt(c.id))) return { ok: false, brokenId: s.id, reason: 'deleted' };
    if (!s || BigInt(c.id) < BigInt(s.id)) return { ok: false, brokenId: c.id, reason: 'inserted' };
    if (!sameBytes(s.hash, c.hash.subarray(0, 8))) return { ok: false, brokenId: c.id, reason: 'altered' };
    i++;
    j++;
  }
  return { ok: true };
}
