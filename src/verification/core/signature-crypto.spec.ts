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

    it('verifies a signature over the base', async () => {
      await expect(sut(alg, publicKey, BASE, signature)).resolves.toBe(true);
    });

    it('rejects a changed base', async () => {
      await expect(sut(alg, publicKey, BASE.replace('example.com', 'example.org'), signature)).resolves.toBe(false);
    });

    it('rejects a flipped signature bit', async () => {
      const tampered = Buffer.from(signature);
      tampered[tampered.length - 1] ^= 1;

      await expect(sut(alg, publicKey, BASE, tampered)).resolves.toBe(false);
    });

    it.each([0, 1, 63, 65, 1024])('returns false for %i bytes of garbage', async (length) => {
      await expect(sut(alg, publicKey, BASE, randomBytes(length))).resolves.toBe(false);
    });
  });

  it('requires the RFC 9421 salt length for RSA-PSS', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signature = sign('sha512', Buffer.from(BASE), {
      key: privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    });

    await expect(sut('rsa-pss-sha512', publicKey, BASE, signature)).resolves.toBe(false);
  });

  it('rejects an RSA PKCS#1 v1.5 signature under rsa-pss-sha512', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signature = sign('sha512', Buffer.from(BASE), privateKey);

    await expect(sut('rsa-pss-sha512', publicKey, BASE, signature)).resolves.toBe(false);
  });

  it('rejects a DER-encoded ECDSA signature (RFC 9421 section 3.3.4 wants r || s)', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signature = sign('sha256', Buffer.from(BASE), { key: privateKey, dsaEncoding: 'der' });

    await expect(sut('ecdsa-p256-sha256', publicKey, BASE, signature)).resolves.toBe(false);
  });

  it.each([
    ['ed25519', 1],
    ['rsa-pss-sha512', 0],
    ['ecdsa-p256-sha256', 0],
  ] as const)('refuses %s with a key of another type', async (alg, keyIndex) => {
    await expect(sut(alg, cases[keyIndex].publicKey, BASE, randomBytes(64))).rejects.toThrow(
      coded('UNSUPPORTED_ALGORITHM'),
    );
  });

  it('refuses an algorithm it does not implement', async () => {
    await expect(sut('hmac-sha256', cases[0].publicKey, BASE, randomBytes(32))).rejects.toThrow(
      coded('UNSUPPORTED_ALGORITHM'),
    );
  });
});
