import { createHmac, randomBytes } from 'node:crypto';
import { compareRange, packEntries, purgeMac, sealHash, unpackEntries } from './audit-chain';

const row = (id: number) => ({ id: String(id), hash: randomBytes(8) });

describe(compareRange.name, () => {
  const sealed = [row(1), row(2), row(5)];

  it('accepts the same events', () => {
    expect(compareRange(sealed, sealed.map((r) => ({ ...r })))).toEqual({ ok: true });
  });

  it('names the first altered, deleted or inserted id', () => {
    expect(compareRange(sealed, [sealed[0], { id: '2', hash: randomBytes(8) }, sealed[2]])).toEqual({ ok: false, brokenId: '2', reason: 'altered' });
    expect(compareRange(sealed, [sealed[0], sealed[2]])).toEqual({ ok: false, brokenId: '2', reason: 'deleted' });
    expect(compareRange(sealed, [sealed[0], sealed[1], row(3), sealed[2]])).toEqual({ ok: false, brokenId: '3', reason: 'inserted' });
    expect(compareRange(sealed, [...sealed, row(6)])).toEqual({ ok: false, brokenId: '6', reason: 'inserted' });
  });
});

describe(packEntries.name, () => {
  it('round-trips ids beyond 2^53 and the short hashes', () => {
    const rows = [{ id: '9007199254740993', hash: randomBytes(8) }, row(7)];
    expect(unpackEntries(packEntries(rows)).map((r) => [r.id, r.hash.toString('hex')])).toEqual(rows.map((r) => [r.id, r.hash.toString('hex')]));
  });
});

describe(sealHash.name, () => {
  it('depends on the key, the previous hash, the range and the entries', () => {
    const entries = packEntries([row(1)]);
    const base = sealHash(undefined, Buffer.alloc(32), '1', '1', entries);
    expect(sealHash(Buffer.from('k'.repeat(32)), Buffer.alloc(32), '1', '1', entries)).not.toEqual(base);
    expect(sealHash(undefined, Buffer.alloc(32, 1), '1', '1', entries)).not.toEqual(base);
    expect(sealHash(undefined, Buffer.alloc(32), '1', '2', entries)).not.toEqual(base);
    expect(sealHash(undefined, Buffer.alloc(32), '1', '1', Buffer.concat([entries]))).toEqual(base);
  });
});

describe(purgeMac.name, () => {
  const key = Buffer.from('k'.repeat(32));
  const hash = randomBytes(32);

  it('depends on the key, the last purged id and the last purged seal hash', () => {
    const base = purgeMac(key, '1000', hash);
    expect(purgeMac(key, '1000', Buffer.from(hash))).toEqual(base);
    expect(purgeMac(Buffer.from('j'.repeat(32)), '1000', hash)).not.toEqual(base);
    expect(purgeMac(undefined, '1000', hash)).not.toEqual(base);
    expect(purgeMac(key, '1001', hash)).not.toEqual(base);
    expect(purgeMac(key, '1000', randomBytes(32))).not.toEqual(base);
  });

  it('is not an HMAC under the seal key itself, so the sealer cannot be made to compute one', () => {
    expect(purgeMac(key, '1000', hash)).not.toEqual(createHmac('sha256', key).update('1000:').update(hash).digest());
  });
});
