import { constants, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { DomainError } from '../../common/errors/domain-error';
import { verifySignatureBytes } from './signature-crypto';

const BASE = '"@authority": example.com\n"@signature-params": ("@authority");created=1;keyid="k"';

interface SigningCase {
  readonly alg: string;
  readonly publicKey: KeyObject;
  readonly sign: (data: Buffer) => Buffer;
}

function signingCases(): SigningCase[] {
  const ed25519 = generateKeyPairSync('ed25519');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return [
    {
      alg: 'ed25519',
      publicKey: ed25519.publicKey,
      sign: (data) => sign(null, data, ed25519.privateKey),
    },
    {
      alg: 'rsa-pss-sha512',
      publicKey: rsa.publicKey,
      sign: (data) =>
        sign('sha512', data, {
          key: rsa.privateKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: 64,
        }),
    },
    {
      alg: 'ecdsa-p256-sha256',
      publicKey: p256.publicKey,
      sign: (data) => sign('sha256', data, { key: p256.privateKey, dsaEncoding: 'ieee-p1363' }),
    },
  ];
}

function coded(code: string) {
  return expect.objectContaining({ name: DomainError.name, code });
}

describe(verifySignatureBytes.name, () => {
  const sut = verifySignatureBytes;
  const cases = signingCases();

  describe.each(cases.map((c) => [c.alg, c] as const))('%s', (alg, { publicKey, sign: signBase }) => {
    const signature = signBase(Buffer.from(BASE));

    it('verifies a signature over the base', () => {
      expect(sut(alg, publicKey, BASE, signature)).toBe(true);
    });

    it('rejects a changed base', () => {
      expect(sut(alg, publicKey, BASE.replace('example.com', 'example.org'), signature)).toBe(false);
    });

    it('rejects a flipped signature bit', () => {
      const tampered = Buffer.from(signature);
      tampered[tampered.length - 1] ^= 1;

      expect(sut(alg, publicKey, BASE, tampered)).toBe(false);
    });

    it.each([0, 1, 63, 65, 1024])('returns false for %i bytes of garbage', (length) => {
      expect(sut(alg, publicKey, BASE, randomBytes(length))).toBe(false);
    });
  });

  it('requires the RFC 9421 salt length for RSA-PSS', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signature = sign('sha512', Buffer.from(BASE), {
      key: privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    });

    expect(sut('rsa-pss-sha512', publicKey, BASE, signature)).toBe(false);
  });

  it('rejects an RSA PKCS#1 v1.5 signature under rsa-pss-sha512', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signature = sign('sha512', Buffer.from(BASE), privateKey);

    expect(sut('rsa-pss-sha512', publicKey, BASE, signature)).toBe(false);
  });

  it('rejects a DER-encoded ECDSA signature (RFC 9421 section 3.3.4 wants r || s)', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signature = sign('sha256', Buffer.from(BASE), { key: privateKey, dsaEncoding: 'der' });

    expect(sut('ecdsa-p256-sha256', publicKey, BASE, signature)).toBe(false);
  });

  it.each([
    ['ed25519', 1],
    ['rsa-pss-sha512', 0],
    ['ecdsa-p256-sha256', 0],
  ] as const)('refuses %s with a key of another type', (alg, keyIndex) => {
    expect(() => sut(alg, cases[keyIndex].publicKey, BASE, randomBytes(64))).toThrow(
      coded('UNSUPPORTED_ALGORITHM'),
    );
  });

  it('refuses an algorithm it does not implement', () => {
    expect(() => sut('hmac-sha256', cases[0].publicKey, BASE, randomBytes(32))).toThrow(
      coded('UNSUPPORTED_ALGORITHM'),
    );
  });
});
