import { generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { helpers, jwkToKeyID } from 'web-bot-auth';
import { DomainError } from '../../common/errors/domain-error';
import {
  algorithmFitsKey,
  hasPrivateMaterial,
  importPublicJwk,
  jwkThumbprint,
  toPublicJwk,
  type JwkInput,
} from './jwk';
import { verifySignatureBytes } from './signature-crypto';

// RFC 7638 section 3.1.
const RFC7638_RSA = {
  kty: 'RSA',
  n:
    '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWK' +
    'RXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMi' +
    'cAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr' +
    '3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
  e: 'AQAB',
  alg: 'RS256',
  kid: '2011-04-29',
};
// RFC 8037 appendix A.2 and A.3.
const RFC8037_ED25519 = {
  kty: 'OKP',
  crv: 'Ed25519',
  x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
};

function exportedPublicJwk(key: KeyObject): JwkInput {
  return { ...key.export({ format: 'jwk' }) };
}

function generatedJwks(): Record<'ed25519' | 'p256' | 'rsa', JwkInput> {
  return {
    ed25519: exportedPublicJwk(generateKeyPairSync('ed25519').publicKey),
    p256: exportedPublicJwk(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey),
    rsa: exportedPublicJwk(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey),
  };
}

function coded(code: string, reason?: string) {
  const expected: Record<string, unknown> = { name: DomainError.name, code };
  if (reason !== undefined) {
    expected.detail = expect.objectContaining({ reason });
  }
  return expect.objectContaining(expected);
}

describe(jwkThumbprint.name, () => {
  const sut = jwkThumbprint;

  it('matches the RFC 7638 RSA example', () => {
    expect(sut(RFC7638_RSA)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('matches the RFC 8037 Ed25519 example', () => {
    expect(sut(RFC8037_ED25519)).toBe('kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  });

  it.each(Object.entries(generatedJwks()))(
    'agrees with an independent implementation for a %s key',
    async (_, jwk) => {
      const expected = await jwkToKeyID({ ...jwk }, helpers.WEBCRYPTO_SHA256, helpers.BASE64URL_DECODE);

      expect(sut(jwk)).toBe(expected);
    },
  );

  it('ignores members outside the required set', () => {
    expect(sut({ ...RFC8037_ED25519, kid: 'x', alg: 'EdDSA', use: 'sig', d: 'secret' })).toBe(
      sut(RFC8037_ED25519),
    );
  });

  it('refuses an invalid key', () => {
    expect(() => sut({ kty: 'OKP', crv: 'Ed25519' })).toThrow(coded('INVALID_PUBLIC_JWK'));
  });
});

describe(toPublicJwk.name, () => {
  const sut = toPublicJwk;
  const { p256 } = generatedJwks();

  it('keeps only the required members', () => {
    expect(sut({ ...RFC7638_RSA, d: 'x', qi: 'y' })).toEqual({ kty: 'RSA', e: 'AQAB', n: RFC7638_RSA.n });
    expect(sut({ ...p256, kid: 'k', ext: true })).toEqual({ kty: 'EC', crv: 'P-256', x: p256.x, y: p256.y });
  });

  const x = RFC8037_ED25519.x;
  const bytes = (length: number) => Buffer.alloc(length, 1).toString('base64url');
  it.each([
    ['no kty', { crv: 'Ed25519', x }, 'unsupported_kty'],
    ['a symmetric key', { kty: 'oct', k: 'AAAA' }, 'unsupported_kty'],
    ['an X25519 key', { kty: 'OKP', crv: 'X25519', x }, 'unsupported_curve'],
    ['an Ed448 key', { kty: 'OKP', crv: 'Ed448', x }, 'unsupported_curve'],
    ['a P-384 key', { ...p256, crv: 'P-384' }, 'unsupported_curve'],
    ['a padded x', { ...RFC8037_ED25519, x: `${x}=` }, 'invalid_base64url'],
    ['a base64 (not url) x', { ...RFC8037_ED25519, x: x.replace('_', '/') }, 'invalid_base64url'],
    ['a non-canonical x', { ...RFC8037_ED25519, x: `${x.slice(0, -1)}p` }, 'invalid_base64url'],
    ['a 31-byte x', { ...RFC8037_ED25519, x: bytes(31) }, 'invalid_coordinate'],
    ['a 33-byte x', { ...RFC8037_ED25519, x: bytes(33) }, 'invalid_coordinate'],
    ['a numeric x', { ...RFC8037_ED25519, x: 42 }, 'invalid_base64url'],
    ['an empty x', { ...RFC8037_ED25519, x: '' }, 'invalid_base64url'],
    ['a missing y', { ...p256, y: undefined }, 'invalid_base64url'],
    ['an RSA modulus with a leading zero', { ...RFC7638_RSA, n: `AA${RFC7638_RSA.n}` }, 'invalid_integer'],
    ['an RSA exponent over 4 bytes', { ...RFC7638_RSA, e: bytes(5) }, 'invalid_integer'],
    ['an RSA modulus over 8192 bits', { ...RFC7638_RSA, n: bytes(1025) }, 'invalid_integer'],
  ])('refuses %s', (_, jwk, reason) => {
    expect(() => sut(jwk)).toThrow(coded('INVALID_PUBLIC_JWK', reason));
  });
});

describe(importPublicJwk.name, () => {
  const sut = importPublicJwk;

  it.each(Object.entries(generatedJwks()))('imports a %s public key', (_, jwk) => {
    const key = sut(jwk);

    expect(key.type).toBe('public');
    expect(key.export({ format: 'jwk' })).toEqual(expect.objectContaining(toPublicJwk(jwk)));
  });

  it('imports only the public part of a private JWK', () => {
    const privateJwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });

    expect(sut({ ...privateJwk }).type).toBe('public');
  });

  it('refuses an EC point that is not on the curve', () => {
    const jwk = {
      kty: 'EC',
      crv: 'P-256',
      x: Buffer.alloc(32, 1).toString('base64url'),
      y: Buffer.alloc(32, 2).toString('base64url'),
    };

    expect(() => sut(jwk)).toThrow(coded('INVALID_PUBLIC_JWK', 'unimportable'));
  });

  it('refuses an RSA key under 2048 bits', () => {
    const jwk = exportedPublicJwk(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey);

    expect(() => sut(jwk)).toThrow(coded('INVALID_PUBLIC_JWK', 'rsa_modulus_too_small'));
  });

  // RFC 8017 section 3.1: e odd, 3 <= e <= n - 1; n a product of odd primes.
  describe('RSA key strength', () => {
    const rsa = generatedJwks().rsa;
    const n = rsa.n as string;
    const exponent = (value: number) => {
      const hex = value.toString(16);
      return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex').toString('base64url');
    };
    const nBytes = Buffer.from(n, 'base64url');
    nBytes[nBytes.length - 1] &= 0xfe;
    const evenN = nBytes.toString('base64url');

    it.each([
      ['e = 1 (the encoded message is its own signature)', { kty: 'RSA', n, e: exponent(1) }, 'rsa_weak_exponent'],
      ['e = 2', { kty: 'RSA', n, e: exponent(2) }, 'rsa_weak_exponent'],
      ['e = 65536', { kty: 'RSA', n, e: exponent(65536) }, 'rsa_weak_exponent'],
      ['an even modulus', { kty: 'RSA', n: evenN, e: 'AQAB' }, 'rsa_even_modulus'],
    ])('refuses %s', (_, jwk, reason) => {
      expect(() => sut(jwk)).toThrow(coded('INVALID_PUBLIC_JWK', reason));
      expect(() => toPublicJwk(jwk)).toThrow(coded('INVALID_PUBLIC_JWK', reason));
      expect(() => jwkThumbprint(jwk)).toThrow(coded('INVALID_PUBLIC_JWK', reason));
    });

    it.each([
      ['e = 3', 3],
      ['e = 65537', 65537],
    ])('accepts %s', (_, e) => {
      expect(sut({ kty: 'RSA', n, e: exponent(e) }).asymmetricKeyDetails?.publicExponent).toBe(BigInt(e));
    });
  });

  // RFC 7517 sections 4.2 and 4.3.
  describe('use and key_ops', () => {
    const { rsa, p256 } = generatedJwks();

    it.each([
      ['use "enc"', { ...rsa, use: 'enc' }, 'not_a_signature_key'],
      ['a non-string use', { ...rsa, use: 1 }, 'not_a_signature_key'],
      ['key_ops ["encrypt"]', { ...rsa, key_ops: ['encrypt'] }, 'not_a_verification_key'],
      ['key_ops ["sign"]', { ...p256, key_ops: ['sign'] }, 'not_a_verification_key'],
      ['key_ops that is not an array', { ...p256, key_ops: 'verify' }, 'not_a_verification_key'],
      ['a non-string alg', { ...p256, alg: 256 }, 'invalid_alg'],
    ])('refuses a key with %s', (_, jwk, reason) => {
      expect(() => sut(jwk)).toThrow(coded('INVALID_PUBLIC_JWK', reason));
    });

    it('accepts use "sig" and key_ops with "verify"', () => {
      expect(sut({ ...rsa, use: 'sig', key_ops: ['verify'] }).type).toBe('public');
      expect(sut({ ...p256, key_ops: ['sign', 'verify'] }).type).toBe('public');
    });
  });
});

describe(hasPrivateMaterial.name, () => {
  const sut = hasPrivateMaterial;

  it.each(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'])('detects %s', (member) => {
    expect(sut({ ...RFC8037_ED25519, [member]: 'x' })).toBe(true);
  });

  it('detects a private member even when its value is empty', () => {
    expect(sut({ ...RFC8037_ED25519, d: '' })).toBe(true);
  });

  it('is false for a public key', () => {
    expect(sut({ ...RFC8037_ED25519, kid: 'k', alg: 'EdDSA' })).toBe(false);
  });
});

describe(algorithmFitsKey.name, () => {
  const sut = algorithmFitsKey;
  const keys = {
    ed25519: generateKeyPairSync('ed25519').publicKey,
    p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
    p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey,
    rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
    rsaPss: generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey,
  };

  it.each([
    ['ed25519', 'ed25519', true],
    ['ed25519', 'rsa', false],
    ['ed25519', 'p256', false],
    ['rsa-pss-sha512', 'rsa', true],
    ['rsa-pss-sha512', 'rsaPss', true],
    ['rsa-pss-sha512', 'ed25519', false],
    ['ecdsa-p256-sha256', 'p256', true],
    ['ecdsa-p256-sha256', 'p384', false],
    ['ecdsa-p256-sha256', 'rsa', false],
    ['hmac-sha256', 'rsa', false],
  ] as const)('%s with a %s key is %p', (alg, keyName, expected) => {
    expect(sut(alg, keys[keyName])).toBe(expected);
  });
});

// RFC 9421 section 3.2 step 6: a JWK's own alg must be the signature's.
describe(`${algorithmFitsKey.name} with a JWK alg`, () => {
  const sut = algorithmFitsKey;
  const jwks = generatedJwks();

  it.each([
    ['rsa-pss-sha512', 'rsa', 'PS512', true],
    ['rsa-pss-sha512', 'rsa', 'RS256', false],
    ['rsa-pss-sha512', 'rsa', 'PS256', false],
    ['ecdsa-p256-sha256', 'p256', 'ES256', true],
    ['ecdsa-p256-sha256', 'p256', 'ES512', false],
    ['ed25519', 'ed25519', 'EdDSA', true],
    ['ed25519', 'ed25519', 'Ed25519', true],
    ['ed25519', 'ed25519', 'ES256', false],
  ] as const)('%s with a %s key whose JWK alg is %s is %p', (alg, keyName, jwkAlg, expected) => {
    expect(sut(alg, importPublicJwk({ ...jwks[keyName], alg: jwkAlg }))).toBe(expected);
  });

  it('leaves a key imported without alg to its key type', () => {
    importPublicJwk({ ...jwks.rsa, alg: 'RS256' });

    expect(sut('rsa-pss-sha512', importPublicJwk(jwks.rsa))).toBe(true);
    expect(sut('ed25519', importPublicJwk(jwks.ed25519))).toBe(true);
  });

  it('makes the signature an UNSUPPORTED_ALGORITHM error', () => {
    const key = importPublicJwk({ ...jwks.p256, alg: 'ES512' });

    expect(() => verifySignatureBytes('ecdsa-p256-sha256', key, 'base', Buffer.alloc(64))).toThrow(
      coded('UNSUPPORTED_ALGORITHM'),
    );
  });
});
