import { constants, verify } from 'node:crypto';
import type { KeyObject, VerifyKeyObjectInput } from 'node:crypto';
import { fail } from '../../common/errors/domain-error';
import { algorithmFitsKey } from './jwk';

interface VerifyMethod {
  readonly digest: string | null;
  readonly key: (key: KeyObject) => KeyObject | VerifyKeyObjectInput;
}

// RFC 9421 section 3.3.
const VERIFY_METHODS: ReadonlyMap<string, VerifyMethod> = new Map<string, VerifyMethod>([
  // Section 3.3.6: Ed25519 signs the base itself, no separate digest.
  ['ed25519', { digest: null, key: (key) => key }],
  // Section 3.3.1: RSASSA-PSS with SHA-512, MGF1 SHA-512, 64-byte salt.
  [
    'rsa-pss-sha512',
    {
      digest: 'sha512',
      key: (key) => ({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }),
    },
  ],
  // Section 3.3.4: the signature is r || s (64 bytes), not DER.
  ['ecdsa-p256-sha256', { digest: 'sha256', key: (key) => ({ key, dsaEncoding: 'ieee-p1363' }) }],
]);

/**
 * Verifies `signature` over the signature base. Returns false for any
 * signature that does not verify, malformed bytes included. An algorithm we
 * do not implement, or one that does not fit the key (RFC 9421 section 3.2,
 * against algorithm confusion), is an UNSUPPORTED_ALGORITHM error instead,
 * so the audit records why.
 */
export function verifySignatureBytes(
  alg: string,
  key: KeyObject,
  base: string,
  signature: Buffer,
): boolean {
  const method = VERIFY_METHODS.get(alg);
  if (method === undefined || !algorithmFitsKey(alg, key)) {
    fail('UNSUPPORTED_ALGORITHM', 'unsupported signature algorithm', {
      alg,
      keyType: key.asymmetricKeyType ?? null,
    });
  }
  try {
    return verify(method.digest, Buffer.from(base, 'utf8'), method.key(key), signature);
  } catch {
    // OpenSSL throws on some malformed inputs (e.g. wrong-length ECDSA
    // signatures); for the caller that is simply a signature that fails.
    return false;
  }
}
