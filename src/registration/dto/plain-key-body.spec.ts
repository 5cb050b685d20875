import 'reflect-metadata';
import fc from 'fast-check';
import { createValidationPipe } from '../../common/http/validation.pipe';
import { plainPublicKeyBody } from './plain-key-body';
import { PublicKeyBodyDto } from './register.dto';

const pipe = createValidationPipe();
const BODY = { type: 'body', metatype: PublicKeyBodyDto, data: undefined } as const;

/** The pipe's answer: the public_jwk members it passes on, or the refusal's code. */
async function pipeAnswer(value: unknown): Promise<{ jwk: Record<string, unknown> } | { code: string }> {
  try {
    const dto = (await pipe.transform(value, BODY)) as PublicKeyBodyDto;
    return { jwk: { ...dto.public_jwk } };
  } catch (error) {
    return { code: (error as { code: string }).code };
  }
}

const X = 'Mx84i2bPvvZcIRNsaSvd5V3HH8E9qkRAO1NtHM2EG6k';

/** Bodies near the plain one: every member varied, extra and private members, other types. */
const jwkValue = fc.oneof(
  fc.constantFrom('OKP', 'Ed25519', 'EC', 'RSA', X, X.slice(1), `${X.slice(0, 42)}l`, `${X}=`, '', ' ', 'okp', 'a'.repeat(129), '\u00e9', 'ab+/'),
  fc.string({ maxLength: 50 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), { maxKeys: 2 }),
);
const jwk = fc.record(
  {
    kty: fc.oneof(fc.constant('OKP'), jwkValue),
    crv: fc.oneof(fc.constant('Ed25519'), jwkValue),
    x: fc.oneof(fc.constant(X), jwkValue),
    kid: fc.oneof(fc.constantFrom('kid-1', '', 'A'.repeat(128), 'A'.repeat(129), 'ki d', '\u{1F600}'), jwkValue),
    d: jwkValue,
    alg: fc.constantFrom('EdDSA', 'none'),
    extra: jwkValue,
  },
  { requiredKeys: [] },
);
/** Mostly valid members, so that the plain body itself comes up often. */
const likely = (valid: string) => fc.oneof({ weight: 5, arbitrary: fc.constant(valid) }, { weight: 1, arbitrary: jwkValue });
const nearlyPlainJwk = fc.record(
  { kty: likely('OKP'), crv: likely('Ed25519'), x: likely(X), kid: fc.oneof(fc.constantFrom('kid-1', '', 'A'.repeat(128), 'A'.repeat(129), '\u{1F600}'), jwkValue) },
  { requiredKeys: ['kty', 'crv', 'x'] },
);
const body = fc.oneof(
  { weight: 3, arbitrary: fc.record({ public_jwk: nearlyPlainJwk }) },
  { weight: 1, arbitrary: fc.record({ public_jwk: fc.oneof(jwk, jwkValue) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.record({ public_jwk: jwk, other: jwkValue }) },
  { weight: 1, arbitrary: jwkValue },
);

describe(plainPublicKeyBody.name, () => {
  it('takes the body vestauth sends, as the pipe passes it on', async () => {
    const value = { public_jwk: { kty: 'OKP', crv: 'Ed25519', x: X, kid: 'abc' } };

    expect(plainPublicKeyBody(value)).toEqual({ public_jwk: { kty: 'OKP', crv: 'Ed25519', x: X, kid: 'abc' } });
    expect(await pipeAnswer(value)).toEqual({ jwk: { kty: 'OKP', crv: 'Ed25519', x: X, kid: 'abc' } });
  });

  it('leaves private members, other members and JSON-only keys such as __proto__ to the pipe', () => {
    expect(plainPublicKeyBody({ public_jwk: { kty: 'OKP', crv: 'Ed25519', x: X, d: X } })).toBeUndefined();
    expect(plainPublicKeyBody({ public_jwk: { kty: 'OKP', crv: 'Ed25519', x: X, alg: 'EdDSA' } })).toBeUndefined();
    expect(plainPublicKeyBody(JSON.parse(`{"public_jwk":{"kty":"OKP","crv":"Ed25519","x":"${X}"},"__proto__":{}}`))).toBeUndefined();
    expect(plainPublicKeyBody(JSON.parse(`{"public_jwk":{"kty":"OKP","crv":"Ed25519","x":"${X}","__proto__":{"d":1}}}`))).toBeUndefined();
    expect(plainPublicKeyBody([{ public_jwk: { kty: 'OKP', crv: 'Ed25519', x: X } }])).toBeUndefined();
  });

  it.each([
    ['the identity point', 'AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['a non-canonical y (p + 1)', '7v_______________________________________38'],
  ])('leaves a weak key (%s) to the pipe, which refuses it with INVALID_PUBLIC_JWK', async (_name, x) => {
    const value = { public_jwk: { kty: 'OKP', crv: 'Ed25519', x } };

    expect(plainPublicKeyBody(value)).toBeUndefined();
    expect(await pipeAnswer(value)).toEqual({ code: 'INVALID_PUBLIC_JWK' });
  });

  it('never takes a body the pipe would refuse, and passes on exactly what the pipe passes on', async () => {
    let taken = 0;
    await fc.assert(
      fc.asyncProperty(body, async (value) => {
        const fast = plainPublicKeyBody(JSON.parse(JSON.stringify(value)));
        if (fast === undefined) return;
        taken++;
        expect(await pipeAnswer(JSON.parse(JSON.stringify(value)))).toEqual({ jwk: { ...fast.public_jwk } });
      }),
      { numRuns: 3000 },
    );
    // The generator reaches the plain body often enough for the property to say something
    // (about 400 of the 3,000 runs; 100 is far below any run's count).
    expect(taken).toBeGreaterThan(100);
  });
});
