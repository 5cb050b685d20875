import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ed25519JwkXWeakness, ed25519KeyWeakness } from './ed25519-key-strength';

const P = 2n ** 255n - 19n;
// y of the two small-order points of order 8 (the other is p - C).
const C = 0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n;

/** The 32-byte encoding: y little-endian, x's sign in the top bit. */
function encode(y: bigint, sign: 0 | 1): Buffer {
  const bytes = Buffer.alloc(32);
  let rest = y;
  for (let i = 0; i < 32; i++) {
    bytes[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  if (sign === 1) bytes[31] |= 0x80;
  return bytes;
}

const BOTH_SIGNS = [0, 1] as const;
const SMALL_ORDER: ReadonlyArray<[string, bigint]> = [
  ['identity (y = 1)', 1n],
  ['order 2 (y = p - 1)', P - 1n],
  ['order 4 (y = 0)', 0n],
  ['order 8 (y = c)', C],
  ['order 8 (y = p - c)', P - C],
];
/** Every y >= p that fits in 255 bits: p .. p + 18. */
const NON_CANONICAL = Array.from({ length: 19 }, (_, i) => P + BigInt(i));

const smallOrderEncodings = SMALL_ORDER.flatMap(([name, y]) => BOTH_SIGNS.map((sign) => [`${name}, sign ${sign}`, encode(y, sign)] as const));

/** R = the identity's encoding (01 00 … 00), S = 0: made without any private key. */
const FORGED_SIGNATURE = Buffer.concat([encode(1n, 0), Buffer.alloc(32)]);

function publicKeyOf(bytes: Buffer): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: bytes.toString('base64url') }, format: 'jwk' });
}

/** The first of `tries` messages that node:crypto accepts the forged signature for, if any. */
function forgeableMessage(key: KeyObject, tries = 200): string | undefined {
  for (let i = 0; i < tries; i++) {
    const message = `any message ${i}`;
    if (verify(null, Buffer.from(message), key, FORGED_SIGNATURE)) return message;
  }
  return undefined;
}

describe(ed25519KeyWeakness.name, () => {
  it.each(smallOrderEncodings)('refuses the small-order point %s', (_name, bytes) => {
    expect(ed25519KeyWeakness(bytes)).toBe('small_order');
  });

  it.each(NON_CANONICAL.flatMap((y) => BOTH_SIGNS.map((sign) => [`p + ${y - P}, sign ${sign}`, encode(y, sign)] as const)))(
    'refuses the non-canonical encoding y = %s (RFC 8032 section 5.1.3 decoding fails)',
    (_name, bytes) => {
      expect(ed25519KeyWeakness(bytes)).toBe('non_canonical');
    },
  );

  // The list is not arbitrary: node:crypto (OpenSSL) accepts a signature made
  // without any private key for each of these keys (for the identity, for
  // every message; for a point of order n, for about 1 message in n).
  it.each(smallOrderEncodings)('the refused key %s really accepts a forged signature', (_name, bytes) => {
    expect(forgeableMessage(publicKeyOf(bytes))).toBeDefined();
  });

  it.each([
    ['p (y = 0 once reduced)', encode(P, 0)],
    ['p + 1 (the identity once reduced)', encode(P + 1n, 1)],
  ])('the non-canonical %s also accepts a forged signature', (_name, bytes) => {
    expect(forgeableMessage(publicKeyOf(bytes))).toBeDefined();
  });

  it('forges the identity key for every message', () => {
    const key = publicKeyOf(encode(1n, 0));
    for (const message of ['GET /whoami', 'POST /rotate', '']) {
      expect(verify(null, Buffer.from(message), key, FORGED_SIGNATURE)).toBe(true);
    }
  });

  it('accepts generated keys, which the forgery does not fool', () => {
    for (let i = 0; i < 50; i++) {
      const { publicKey } = generateKeyPairSync('ed25519');
      const x = String(publicKey.export({ format: 'jwk' }).x);
      expect(ed25519JwkXWeakness(x)).toBeUndefined();
      expect(forgeableMessage(publicKey, 20)).toBeUndefined();
    }
  });

  it.each([
    ['y = 2', encode(2n, 0)],
    ['y = p - 2', encode(P - 2n, 1)],
    ['y = c + 1', encode(C + 1n, 0)],
  ])('accepts the canonical y next to a refused one: %s', (_name, bytes) => {
    expect(ed25519KeyWeakness(bytes)).toBeUndefined();
  });

  it('leaves other lengths to the caller', () => {
    expect(ed25519KeyWeakness(Buffer.alloc(31))).toBeUndefined();
    expect(ed25519KeyWeakness(Buffer.alloc(33))).toBeUndefined();
  });
});

describe(ed25519JwkXWeakness.name, () => {
  it('reads the base64url x of a JWK', () => {
    expect(ed25519JwkXWeakness('AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toBe('small_order');
    expect(ed25519JwkXWeakness(encode(P + 1n, 0).toString('base64url'))).toBe('non_canonical');
  });
});
