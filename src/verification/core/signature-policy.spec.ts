import { DomainError } from '../../common/errors/domain-error';
import type { SignatureParams } from './signature-headers';
import {
  checkSignatureParams,
  DEFAULT_SIGNATURE_POLICY,
  MAX_KEYID_LENGTH,
  MAX_NONCE_LENGTH,
  type SignaturePolicy,
} from './signature-policy';

const NOW = 1_795_779_140;

function vestauthParams(overrides: Partial<SignatureParams> = {}): SignatureParams {
  return {
    created: NOW,
    expires: NOW + 300,
    keyid: 'kid-1',
    alg: 'ed25519',
    nonce: 'n'.repeat(86),
    tag: 'web-bot-auth',
    ...overrides,
  };
}

function coded(code: string, reason?: string) {
  const expected: Record<string, unknown> = { name: DomainError.name, code };
  if (reason !== undefined) {
    expected.detail = expect.objectContaining({ reason });
  }
  return expect.objectContaining(expected);
}

describe(checkSignatureParams.name, () => {
  const sut = checkSignatureParams;
  const policy = DEFAULT_SIGNATURE_POLICY;

  it('has the documented defaults', () => {
    expect(DEFAULT_SIGNATURE_POLICY).toEqual({
      clockSkewSeconds: 30,
      maxLifetimeSeconds: 330,
      requireNonce: true,
      requiredTag: 'web-bot-auth',
      supportedAlgorithms: ['ed25519', 'rsa-pss-sha512', 'ecdsa-p256-sha256'],
    });
  });

  it('accepts a fresh vestauth signature', () => {
    expect(() => sut(vestauthParams(), policy, NOW)).not.toThrow();
  });

  it.each(['ed25519', 'rsa-pss-sha512', 'ecdsa-p256-sha256'])('accepts alg %s', (alg) => {
    expect(() => sut(vestauthParams({ alg }), policy, NOW)).not.toThrow();
  });

  describe('algorithm', () => {
    it.each([undefined, 'hmac-sha256', 'rsa-v1_5-sha256', 'ED25519'])('refuses alg %p', (alg) => {
      expect(() => sut(vestauthParams({ alg }), policy, NOW)).toThrow(coded('UNSUPPORTED_ALGORITHM'));
    });

    it('honours a narrower list', () => {
      const ed25519Only: SignaturePolicy = { ...policy, supportedAlgorithms: ['ed25519'] };

      expect(() => sut(vestauthParams({ alg: 'rsa-pss-sha512' }), ed25519Only, NOW)).toThrow(
        coded('UNSUPPORTED_ALGORITHM'),
      );
    });
  });

  describe('keyid', () => {
    it.each([
      ['a missing', undefined],
      ['an empty', ''],
      ['a too long', 'k'.repeat(MAX_KEYID_LENGTH + 1)],
    ])('refuses %s keyid', (_, keyid) => {
      expect(() => sut(vestauthParams({ keyid }), policy, NOW)).toThrow(
        coded('INVALID_SIGNATURE_INPUT', 'invalid_keyid'),
      );
    });
  });

  describe('validity window', () => {
    it('refuses a signature without created', () => {
      expect(() => sut(vestauthParams({ created: undefined }), policy, NOW)).toThrow(
        coded('INVALID_SIGNATURE_INPUT', 'missing_created'),
      );
    });

    it('refuses a signature without expires', () => {
      expect(() => sut(vestauthParams({ expires: undefined }), policy, NOW)).toThrow(
        coded('INVALID_SIGNATURE_INPUT', 'missing_expires'),
      );
    });

    it('accepts created up to the skew in the future', () => {
      const params = vestauthParams({ created: NOW + 30, expires: NOW + 330 });

      expect(() => sut(params, policy, NOW)).not.toThrow();
    });

    it('refuses created beyond the skew in the future', () => {
      const params = vestauthParams({ created: NOW + 31, expires: NOW + 331 });

      expect(() => sut(params, policy, NOW)).toThrow(coded('SIGNATURE_NOT_YET_VALID'));
    });

    it('accepts expires up to the skew in the past', () => {
      const params = vestauthParams({ created: NOW - 330, expires: NOW - 30 });

      expect(() => sut(params, policy, NOW)).not.toThrow();
    });

    it('refuses expires beyond the skew in the past', () => {
      const params = vestauthParams({ created: NOW - 331, expires: NOW - 31 });

      expect(() => sut(params, policy, NOW)).toThrow(coded('EXPIRED_SIGNATURE'));
    });

    it.each([
      ['equal to', NOW],
      ['before', NOW - 1],
    ])('refuses expires %s created', (_, expires) => {
      expect(() => sut(vestauthParams({ expires }), policy, NOW)).toThrow(
        coded('INVALID_SIGNATURE_INPUT', 'expires_not_after_created'),
      );
    });

    it('accepts the maximum lifetime', () => {
      expect(() => sut(vestauthParams({ expires: NOW + 330 }), policy, NOW)).not.toThrow();
    });

    it('refuses a lifetime beyond the maximum', () => {
      expect(() => sut(vestauthParams({ expires: NOW + 331 }), policy, NOW)).toThrow(
        coded('SIGNATURE_TOO_LONG_LIVED'),
      );
    });

    it('checks expiry before lifetime, so a stale long-lived signature reads as expired', () => {
      const params = vestauthParams({ created: NOW - 10_000, expires: NOW - 1_000 });

      expect(() => sut(params, policy, NOW)).toThrow(coded('EXPIRED_SIGNATURE'));
    });
  });

  describe('nonce', () => {
    it.each([undefined, ''])('refuses a missing nonce (%p) when required', (nonce) => {
      expect(() => sut(vestauthParams({ nonce }), policy, NOW)).toThrow(coded('MISSING_NONCE'));
    });

    it('accepts a missing nonce when not required', () => {
      const relaxed: SignaturePolicy = { ...policy, requireNonce: false };

      expect(() => sut(vestauthParams({ nonce: undefined }), relaxed, NOW)).not.toThrow();
    });

    it('refuses an over-long nonce', () => {
      const nonce = 'n'.repeat(MAX_NONCE_LENGTH + 1);

      expect(() => sut(vestauthParams({ nonce }), policy, NOW)).toThrow(
        coded('INVALID_SIGNATURE_INPUT', 'nonce_too_long'),
      );
    });
  });

  describe('tag', () => {
    it.each([undefined, 'null', 'WEB-BOT-AUTH'])('refuses tag %p when web-bot-auth is required', (tag) => {
      expect(() => sut(vestauthParams({ tag }), policy, NOW)).toThrow(coded('WRONG_TAG'));
    });

    it('accepts any tag when none is required (registration)', () => {
      const registration: SignaturePolicy = { ...policy, requiredTag: undefined };

      expect(() => sut(vestauthParams({ tag: 'null' }), registration, NOW)).not.toThrow();
    });
  });

  it('checks the algorithm first', () => {
    const params: SignatureParams = { alg: 'hmac-sha256' };

    expect(() => sut(params, policy, NOW)).toThrow(coded('UNSUPPORTED_ALGORITHM'));
  });
});
