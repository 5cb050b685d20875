/**
 * Ed25519 public keys no one needs a private key for.
 *
 * OpenSSL verifies Ed25519 without the cofactor and accepts any point it can
 * decode: for a small-order public key A, [k]A takes at most 8 values, so a
 * signature with R = identity and S = 0 verifies for 1 message in 8 or, for
 * the identity itself, for every message. A proof-of-possession with such a
 * key proves nothing. RFC 8032 section 5.1.3 also fails decoding when the
 * y coordinate is not below p; OpenSSL reduces it instead, which turns
 * e.g. y = p + 1 into the identity again.
 *
 * The 32 bytes are y little-endian with x's sign in the top bit. The eight
 * small-order points have y in {0, 1, p - 1, c, p - c} (both signs of x;
 * y = 1 the identity, p - 1 order 2, 0 order 4, c and p - c order 8).
 * A few byte comparisons: this runs on every registration.
 */
export type Ed25519KeyWeakness = 'non_canonical' | 'small_order';

const KEY_BYTES = 32;

/** y (sign bit cleared) of each small-order point, little-endian. */
const SMALL_ORDER_Y: readonly Buffer[] = [
  '0000000000000000000000000000000000000000000000000000000000000000', // 0
  '0100000000000000000000000000000000000000000000000000000000000000', // 1
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p - 1
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // c
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // p - c
].map((hex) => Buffer.from(hex, 'hex'));

/**
 * Why a 32-byte Ed25519 public key must be refused, or undefined for an
 * ordinary key. Any other length is the caller's to refuse.
 */
export function ed25519KeyWeakness(key: Uint8Array): Ed25519KeyWeakness | undefined {
  if (key.length !== KEY_BYTES) return undefined;
  if (isAtLeastP(key)) return 'non_canonical';
  return SMALL_ORDER_Y.some((weak) => hasY(key, weak)) ? 'small_order' : undefined;
}

/** The same for the base64url `x` of an Ed25519 JWK. */
export function ed25519JwkXWeakness(x: string): Ed25519KeyWeakness | undefined {
  return ed25519KeyWeakness(Buffer.from(x, 'base64url'));
}

/** The key's y (its top bit, x's sign, left out) is `y`. */
function hasY(key: Uint8Array, y: Uint8Array): boolean {
  if ((key[KEY_BYTES - 1] & 0x7f) !== y[KEY_BYTES - 1]) return false;
  for (let i = 0; i < KEY_BYTES - 1; i++) if (key[i] !== y[i]) return false;
  return true;
}

// p = 2^255 - 19 is ed ff … ff 7f little-endian: y >= p when every byte above
// the lowest is at its maximum and the lowest is at least 0xed.
function isAtLeastP(key: Uint8Array): boolean {
  if ((key[KEY_BYTES - 1] & 0x7f) !== 0x7f || key[0] < 0xed) return false;
  for (let i = 1; i < KEY_BYTES - 1; i++) if (key[i] !== 0xff) return false;
  return true;
}
