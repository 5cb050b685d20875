import { createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { fail } from '../../common/errors/domain-error';

/**
 * A public JWK reduced to the members RFC 7638 section 3.2 requires for its
 * key type: nothing the client added (kid, alg, use, private parts) survives.
 */
export type PublicJwk =
  | { readonly kty: 'OKP'; readonly crv: 'Ed25519'; readonly x: string }
  | { readonly kty: 'EC'; readonly crv: 'P-256'; readonly x: string; readonly y: string }
  | { readonly kty: 'RSA'; readonly e: string; readonly n: string };

export type JwkInput = Readonly<Record<string, unknown>>;

// RFC 7517/7518 private members: EC/OKP `d`, the RSA CRT values and `oth`,
// and the symmetric `k`.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

const COORDINATE_BYTES = 32;
// Below 2048 bits RSA is too weak; above 8192 every verification gets
// expensive for nothing.
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;
const MAX_RSA_EXPONENT_BYTES = 4;

export function hasPrivateMaterial(jwk: JwkInput): boolean {
  return PRIVATE_MEMBERS.some((member) => Object.hasOwn(jwk, member));
}

/** Validates a JWK and keeps only its required public members. */
export function toPublicJwk(jwk: JwkInput): PublicJwk {
  switch (jwk.kty) {
    case 'OKP':
      if (jwk.crv !== 'Ed25519') {
        invalid('unsupported_curve');
      }
      return { kty: 'OKP', crv: 'Ed25519', x: fixedBytes(jwk.x, COORDINATE_BYTES) };
    case 'EC':
      if (jwk.crv !== 'P-256') {
        invalid('unsupported_curve');
      }
      return {
        kty: 'EC',
        crv: 'P-256',
        x: fixedBytes(jwk.x, COORDINATE_BYTES),
        y: fixedBytes(jwk.y, COORDINATE_BYTES),
      };
    case 'RSA':
      return {
        kty: 'RSA',
        e: rsaExponent(jwk.e),
        n: rsaModulus(jwk.n),
      };
    default:
      invalid('unsupported_kty');
  }
}

/**
 * RFC 7638 thumbprint: SHA-256 over the required members in lexicographic
 * order with no whitespace, base64url without padding. This is the `kid`
 * and the RFC 9421 `keyid` (DESIGN.md section 2).
 */
export function jwkThumbprint(jwk: JwkInput): string {
  const canonical = JSON.stringify(thumbprintMembers(toPublicJwk(jwk)));
  return createHash('sha256').update(canonical).digest('base64url');
}

// The object literals fix the member order JSON.stringify emits.
function thumbprintMembers(jwk: PublicJwk): Record<string, string> {
  switch (jwk.kty) {
    case 'OKP':
      return { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
    case 'EC':
      return { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
    case 'RSA':
      return { e: jwk.e, kty: jwk.kty, n: jwk.n };
  }
}

/**
 * Imports a public JWK for verifying signatures. A key its publisher marked
 * for another purpose (RFC 7517 section 4.2 `use` other than "sig", section
 * 4.3 `key_ops` without "verify") is refused; its `alg` (section 4.4), when
 * present, is kept with the key so algorithmFitsKey holds signatures to it
 * (RFC 9421 section 3.2 step 6).
 */
export function importPublicJwk(jwk: JwkInput): KeyObject {
  const publicJwk = toPublicJwk(jwk);
  checkVerifyUse(jwk);
  const namedAlg = jwk.alg;
  if (namedAlg !== undefined && (typeof namedAlg !== 'string' || namedAlg === '')) {
    invalid('invalid_alg');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: { ...publicJwk }, format: 'jwk' });
  } catch {
    invalid('unimportable');
  }
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (publicJwk.kty === 'RSA' && (bits === undefined || bits < MIN_RSA_BITS)) {
    invalid('rsa_modulus_too_small');
  }
  if (namedAlg !== undefined) {
    (keyAlgorithms ??= new WeakMap()).set(key, namedAlg);
  }
  return key;
}

/**
 * The JWK `alg` of keys imported with one. Created with the first such key:
 * our own agents' keys (Ed25519, no alg) never need it, so their hot path
 * does not look anything up unless a foreign key named an algorithm.
 */
let keyAlgorithms: WeakMap<KeyObject, string> | undefined;

// RFC 9421 section 3.3 algorithms and the JOSE names (RFC 7518 section 3.1,
// RFC 8037 section 3.1, RFC 9864) a JWK `alg` may give them.
const JOSE_NAMES: Readonly<Record<string, readonly string[]>> = {
  'rsa-pss-sha512': ['PS512'],
  'ecdsa-p256-sha256': ['ES256'],
  ed25519: ['EdDSA', 'Ed25519'],
};

/**
 * RFC 9421 section 3.2: the signature's alg must fit the key it names, and
 * (step 6) the algorithm the key material names, if any.
 */
export function algorithmFitsKey(alg: string, key: KeyObject): boolean {
  if (keyAlgorithms !== undefined) {
    const named = keyAlgorithms.get(key);
    if (named !== undefined && !(JOSE_NAMES[alg]?.includes(named) ?? false)) {
      return false;
    }
  }
  switch (alg) {
    case 'ed25519':
      return key.asymmetricKeyType === 'ed25519';
    case 'rsa-pss-sha512':
      return key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss';
    case 'ecdsa-p256-sha256':
      return (
        key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
      );
    default:
      return false;
  }
}

// RFC 7517 sections 4.2 and 4.3: a key published for encryption (or for
// signing only, not verifying) is not one to verify signatures with.
function checkVerifyUse(jwk: JwkInput): void {
  if (Object.hasOwn(jwk, 'use') && jwk.use !== 'sig') {
    invalid('not_a_signature_key');
  }
  if (Object.hasOwn(jwk, 'key_ops')) {
    const ops = jwk.key_ops;
    if (!Array.isArray(ops) || !ops.includes('verify')) {
      invalid('not_a_verification_key');
    }
  }
}

// RFC 8017 section 3.1: e is odd with 3 <= e <= n - 1. e = 1 makes the
// encoded message its own signature (forgeable without any private key); an
// even e is not an RSA key at all. The upper bound holds by size: e has at
// most 4 bytes, n at least 2048 bits.
function rsaExponent(value: unknown): string {
  const text = unsignedInteger(value, MAX_RSA_EXPONENT_BYTES);
  const bytes = Buffer.from(text, 'base64url');
  if ((bytes[bytes.length - 1] & 1) === 0 || (bytes.length === 1 && bytes[0] < 3)) {
    invalid('rsa_weak_exponent');
  }
  return text;
}

// An RSA modulus is a product of two odd primes, so odd.
function rsaModulus(value: unknown): string {
  const text = unsignedInteger(value, MAX_RSA_BITS / 8);
  const bytes = Buffer.from(text, 'base64url');
  if ((bytes[bytes.length - 1] & 1) === 0) {
    invalid('rsa_even_modulus');
  }
  return text;
}

// RFC 7518 section 6.2.1 and RFC 8037 section 2: coordinates are
// fixed-length. Requiring the canonical encoding (no padding, no stray bits)
// keeps one key from having several thumbprints.
function fixedBytes(value: unknown, length: number): string {
  const text = base64UrlText(value);
  if (decodeCanonical(text).length !== length) {
    invalid('invalid_coordinate');
  }
  return text;
}

// RFC 7518 section 6.3.1: RSA values are unsigned big-endian integers; a
// leading zero octet would give the same key a second thumbprint.
function unsignedInteger(value: unknown, maxBytes: number): string {
  const text = base64UrlText(value);
  const bytes = decodeCanonical(text);
  if (bytes.length > maxBytes || bytes[0] === 0) {
    invalid('invalid_integer');
  }
  return text;
}

function base64UrlText(value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]+$/.test(value)) {
    invalid('invalid_base64url');
  }
  return value;
}

function decodeCanonical(text: string): Buffer {
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.length === 0 || bytes.toString('base64url') !== text) {
    invalid('invalid_base64url');
  }
  return bytes;
}

function invalid(reason: string): never {
  fail('INVALID_PUBLIC_JWK', 'invalid public key', { reason });
}
