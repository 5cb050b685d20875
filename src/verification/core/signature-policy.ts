import { fail } from '../../common/errors/domain-error';
import type { SignatureParams } from './signature-headers';

export interface SignaturePolicy {
  readonly clockSkewSeconds: number;
  readonly maxLifetimeSeconds: number;
  readonly requireNonce: boolean;
  /** Undefined accepts any tag (registration: vestauth 0.21.1 signs it with tag="null"). */
  readonly requiredTag?: string;
  readonly supportedAlgorithms: readonly string[];
}

export const WEB_BOT_AUTH_TAG = 'web-bot-auth';

// RFC 9421 section 6.2 algorithm names; Ed25519 is what vestauth signs with.
export const SUPPORTED_ALGORITHMS = ['ed25519', 'rsa-pss-sha512', 'ecdsa-p256-sha256'] as const;

const DEFAULT_CLOCK_SKEW_SECONDS = 30;
// vestauth signatures live 300 s; the skew allowance is added so a client
// whose clock runs slightly ahead still fits.
const DEFAULT_MAX_LIFETIME_SECONDS = 300 + DEFAULT_CLOCK_SKEW_SECONDS;

export const DEFAULT_SIGNATURE_POLICY: SignaturePolicy = Object.freeze({
  clockSkewSeconds: DEFAULT_CLOCK_SKEW_SECONDS,
  maxLifetimeSeconds: DEFAULT_MAX_LIFETIME_SECONDS,
  requireNonce: true,
  requiredTag: WEB_BOT_AUTH_TAG,
  supportedAlgorithms: SUPPORTED_ALGORITHMS,
});

/**
 * Both values are stored (nonce store) and looked up (key store), so they
 * are bounded here. vestauth's nonce is 86 characters (64 bytes base64url)
 * and a kid is a 43-character thumbprint.
 */
export const MAX_NONCE_LENGTH = 256;
export const MAX_KEYID_LENGTH = 256;

/**
 * Checks the signature parameters against the route's policy (DESIGN.md
 * section 4, step 2). Runs before any key lookup or cryptography, so a
 * stale or malformed signature costs nothing.
 */
export function checkSignatureParams(
  params: SignatureParams,
  policy: SignaturePolicy,
  nowSeconds: number,
): void {
  checkAlgorithm(params.alg, policy.supportedAlgorithms);
  checkKeyId(params.keyid);
  checkValidityWindow(params, policy, nowSeconds);
  checkNonce(params.nonce, policy.requireNonce);
  checkTag(params.tag, policy.requiredTag);
}

// RFC 9421 section 2.3 makes alg optional, deriving the algorithm from the
// key instead. We require it so the algorithm is covered by the signature
// and can be matched against the key before verifying (section 3.2).
function checkAlgorithm(alg: string | undefined, supported: readonly string[]): void {
  if (alg === undefined || !supported.includes(alg)) {
    fail('UNSUPPORTED_ALGORITHM', 'unsupported signature algorithm', { alg: alg ?? null });
  }
}

function checkKeyId(keyid: string | undefined): void {
  if (keyid === undefined || keyid === '' || keyid.length > MAX_KEYID_LENGTH) {
    fail('INVALID_SIGNATURE_INPUT', 'invalid signature input', { reason: 'invalid_keyid' });
  }
}

// RFC 9421 sections 3.2.1 and 7.2.2 leave freshness to the verifier: we need
// both timestamps and a bounded lifetime so a captured signature cannot be
// replayed after its nonce has been purged.
function checkValidityWindow(
  params: SignatureParams,
  policy: SignaturePolicy,
  nowSeconds: number,
): void {
  const { created, expires } = params;
  if (created === undefined || expires === undefined) {
    fail('INVALID_SIGNATURE_INPUT', 'invalid signature input', {
      reason: created === undefined ? 'missing_created' : 'missing_expires',
    });
  }
  const timing = { created, expires, now: nowSeconds };
  if (created > nowSeconds + policy.clockSkewSeconds) {
    fail('SIGNATURE_NOT_YET_VALID', 'signature is not yet valid', timing);
  }
  if (expires < nowSeconds - policy.clockSkewSeconds) {
    fail('EXPIRED_SIGNATURE', 'signature has expired', timing);
  }
  if (expires <= created) {
    fail('INVALID_SIGNATURE_INPUT', 'invalid signature input', {
      reason: 'expires_not_after_created',
      ...timing,
    });
  }
  if (expires - created > policy.maxLifetimeSeconds) {
    fail('SIGNATURE_TOO_LONG_LIVED', 'signature lifetime is too long', {
      ...timing,
      maxLifetimeSeconds: policy.maxLifetimeSeconds,
    });
  }
}

function checkNonce(nonce: string | undefined, required: boolean): void {
  if (nonce === undefined || nonce === '') {
    if (required) {
      fail('MISSING_NONCE', 'missing nonce');
    }
    return;
  }
  if (nonce.length > MAX_NONCE_LENGTH) {
    fail('INVALID_SIGNATURE_INPUT', 'invalid signature input', {
      reason: 'nonce_too_long',
      length: nonce.length,
    });
  }
}

function checkTag(tag: string | undefined, requiredTag: string | undefined): void {
  if (requiredTag !== undefined && tag !== requiredTag) {
    fail('WRONG_TAG', 'wrong signature tag', { tag: tag ?? null });
  }
}
