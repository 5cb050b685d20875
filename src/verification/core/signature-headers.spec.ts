import { DomainError } from '../../common/errors/domain-error';
import {
  MAX_COVERED_COMPONENTS,
  MAX_SIGNATURE_HEADER_LENGTH,
  MAX_SIGNATURE_LABELS,
  parseSignatureHeaders,
} from './signature-headers';

const NONCE = 'n'.repeat(86);
const SIGNATURE_B64 = Buffer.alloc(64, 7).toString('base64');
const VESTAUTH_PARAMS =
  `("@authority");created=1795779140;keyid="kid-1";alg="ed25519";` +
  `expires=1795779440;nonce="${NONCE}";tag="web-bot-auth"`;
const WEB_BOT_AUTH = { requiredTag: 'web-bot-auth' };

function coded(code: string, reason?: string) {
  const expected: Record<string, unknown> = { name: DomainError.name, code };
  if (reason !== undefined) {
    expected.detail = expect.objectContaining({ reason });
  }
  return expect.objectContaining(expected);
}

describe(parseSignatureHeaders.name, () => {
  const sut = parseSignatureHeaders;

  describe('with a vestauth-shaped signature', () => {
    it('returns the label, components, parameters and signature bytes', () => {
      const parsed = sut(`sig1=${VESTAUTH_PARAMS}`, `sig1=:${SIGNATURE_B64}:`, WEB_BOT_AUTH);

      expect(parsed.label).toBe('sig1');
      expect(parsed.components.map((c) => c.serialized)).toEqual(['"@authority"']);
      expect(parsed.params).toEqual({
        created: 1795779140,
        expires: 1795779440,
        keyid: 'kid-1',
        alg: 'ed25519',
        nonce: NONCE,
        tag: 'web-bot-auth',
      });
      expect(parsed.signature.equals(Buffer.alloc(64, 7))).toBe(true);
    });

    it('keeps @signature-params byte-identical to what the signer sent', () => {
      const parsed = sut(`sig1=${VESTAUTH_PARAMS}`, `sig1=:${SIGNATURE_B64}:`, WEB_BOT_AUTH);

      expect(parsed.signatureParams).toBe(VESTAUTH_PARAMS);
    });
  });

  it('serializes @signature-params canonically when the header has optional whitespace', () => {
    const parsed = sut(
      'sig1=( "@authority"  "@path" );created=1; keyid="k";tag="web-bot-auth"',
      `sig1=:${SIGNATURE_B64}:`,
      WEB_BOT_AUTH,
    );

    expect(parsed.signatureParams).toBe('("@authority" "@path");created=1;keyid="k";tag="web-bot-auth"');
  });

  it('keeps component parameters and their serialization', () => {
    const parsed = sut(
      'sig2=("@authority" "signature-agent";key="agent2");tag="web-bot-auth"',
      `sig2=:${SIGNATURE_B64}:`,
      WEB_BOT_AUTH,
    );

    expect(parsed.components[1].name).toBe('signature-agent');
    expect(parsed.components[1].params).toEqual(new Map([['key', 'agent2']]));
    expect(parsed.components[1].serialized).toBe('"signature-agent";key="agent2"');
  });

  it('keeps unknown signature parameters in @signature-params', () => {
    const input = 'sig1=("@authority");tag="web-bot-auth";ext=?1';

    const parsed = sut(input, `sig1=:${SIGNATURE_B64}:`, WEB_BOT_AUTH);

    expect(parsed.signatureParams).toBe('("@authority");tag="web-bot-auth";ext');
  });

  describe('label selection', () => {
    it('picks the label carrying the required tag among several', () => {
      const parsed = sut(
        'proxy=("@method");tag="cdn", sig1=("@authority");tag="web-bot-auth"',
        `proxy=:${SIGNATURE_B64}:, sig1=:${SIGNATURE_B64}:`,
        WEB_BOT_AUTH,
      );

      expect(parsed.label).toBe('sig1');
    });

    it('refuses WRONG_TAG when no label carries the required tag', () => {
      expect(() =>
        sut('sig1=("@authority");tag="null"', `sig1=:${SIGNATURE_B64}:`, WEB_BOT_AUTH),
      ).toThrow(coded('WRONG_TAG'));
    });

    it('refuses two labels carrying the required tag', () => {
      expect(() =>
        sut(
          'a=("@authority");tag="web-bot-auth", b=("@authority");tag="web-bot-auth"',
          `a=:${SIGNATURE_B64}:, b=:${SIGNATURE_B64}:`,
          WEB_BOT_AUTH,
        ),
      ).toThrow(coded('INVALID_SIGNATURE_INPUT', 'ambiguous_tag'));
    });

    it('accepts a single label whatever its tag when no tag is required', () => {
      const parsed = sut('sig1=("@authority");tag="null"', `sig1=:${SIGNATURE_B64}:`, {});

      expect(parsed.params.tag).toBe('null');
    });

    it('refuses several labels when no tag is required', () => {
      expect(() =>
        sut(
          'a=("@authority");tag="null", b=("@authority")',
          `a=:${SIGNATURE_B64}:, b=:${SIGNATURE_B64}:`,
          {},
        ),
      ).toThrow(coded('INVALID_SIGNATURE_INPUT', 'expected_single_label'));
    });

    it('refuses a tagged label with no matching Signature member', () => {
      expect(() =>
        sut(`sig1=${VESTAUTH_PARAMS}`, `other=:${SIGNATURE_B64}:`, WEB_BOT_AUTH),
      ).toThrow(coded('INVALID_SIGNATURE', 'label_missing'));
    });
  });

  describe('missing and malformed headers', () => {
    const signature = `sig1=:${SIGNATURE_B64}:`;
    const input = `sig1=${VESTAUTH_PARAMS}`;

    it.each([
      ['no Signature-Input', undefined, signature, 'MISSING_SIGNATURE_INPUT'],
      ['a blank Signature-Input', '  ', signature, 'MISSING_SIGNATURE_INPUT'],
      ['no Signature', input, undefined, 'MISSING_SIGNATURE'],
      ['an empty Signature', input, '', 'MISSING_SIGNATURE'],
      ['an unclosed inner list', 'sig1=("@authority"', signature, 'INVALID_SIGNATURE_INPUT'],
      ['an uppercase label', 'Sig1=("@authority")', signature, 'INVALID_SIGNATURE_INPUT'],
      ['an item, not an inner list', 'sig1="@authority"', signature, 'INVALID_SIGNATURE_INPUT'],
      ['a signature that is not base64', input, 'sig1=:not base64:', 'INVALID_SIGNATURE'],
      ['a string signature', input, 'sig1="text"', 'INVALID_SIGNATURE'],
      ['an empty byte sequence', input, 'sig1=::', 'INVALID_SIGNATURE'],
      ['an inner-list signature', input, `sig1=(:${SIGNATURE_B64}:)`, 'INVALID_SIGNATURE'],
    ])('refuses %s', (_, signatureInput, signatureHeader, code) => {
      expect(() => sut(signatureInput, signatureHeader, WEB_BOT_AUTH)).toThrow(coded(code));
    });
  });

  describe('bounds', () => {
    it('refuses an over-long Signature-Input before parsing it', () => {
      const input = `sig1=${VESTAUTH_PARAMS};pad="${'x'.repeat(MAX_SIGNATURE_HEADER_LENGTH)}"`;

      expect(() => sut(input, `sig1=:${SIGNATURE_B64}:`, WEB_BOT_AUTH)).toThrow(
        coded('INVALID_SIGNATURE_INPUT', 'header_too_long'),
      );
    });

    it('refuses an over-long Signature before parsing it', () => {
      const signature = `sig1=:${'A'.repeat(MAX_SIGNATURE_HEADER_LENGTH)}:`;

      expect(() => sut(`sig1=${VESTAUTH_PARAMS}`, signature, WEB_BOT_AUTH)).toThrow(
        coded('INVALID_SIGNATURE', 'header_too_long'),
      );
    });

    it('refuses more labels than allowed', () => {
      const labels = Array.from({ length: MAX_SIGNATURE_LABELS + 1 }, (_, i) => `l${i}=("@authority")`);

      expect(() => sut(labels.join(', '), `l0=:${SIGNATURE_B64}:`, WEB_BOT_AUTH)).toThrow(
        coded('INVALID_SIGNATURE_INPUT', 'too_many_labels'),
      );
    });

    it('refuses more covered components than allowed', () => {
      const components = Array.from({ length: MAX_COVERED_COMPONENTS + 1 }, (_, i) => `"x-h${i}"`);
      const input = `sig1=(${components.join(' ')});tag="web-bot-auth"`;

      expect(() => sut(input, `sig1=:${SIGNATURE_B64}:`, WEB_BOT_AUTH)).toThrow(
        coded('INVALID_SIGNATURE_INPUT', 'too_many_components'),
      );
    });
  });

  describe('component identifiers', () => {
    it.each([
      ['a token instead of a string', '(@authority)'],
      ['an uppercase name', '("Host")'],
      ['an empty name', '("")'],
      ['@signature-params itself', '("@signature-params")'],
      ['a duplicate', '("@authority" "@authority")'],
      ['a duplicate with reordered parameters', '("x";sf;key="a" "x";key="a";sf)'],
      ['a token parameter value', '("signature-agent";key=agent2)'],
    ])('refuses %s', (_, list) => {
      expect(() => sut(`sig1=${list};tag="web-bot-auth"`, `sig1=:${SIGNATURE_B64}:`, WEB_BOT_AUTH)).toThrow(
        coded('INVALID_SIGNATURE_INPUT'),
      );
    });

    it('accepts the same field with different parameters', () => {
      const parsed = sut(
        'sig1=("signature-agent" "signature-agent";key="a");tag="web-bot-auth"',
        `sig1=:${SIGNATURE_B64}:`,
        WEB_BOT_AUTH,
      );

      expect(parsed.components).toHaveLength(2);
    });
  });

  describe('signature parameters', () => {
    it.each([
      ['a decimal created', 'created=1.5'],
      ['a string created', 'created="1"'],
      ['a negative expires', 'expires=-1'],
      ['a token keyid', 'keyid=kid'],
      ['an integer alg', 'alg=1'],
      ['a boolean nonce', 'nonce'],
      ['an RFC 9651 date', 'created=@1795779140'],
      ['an RFC 9651 display string', 'ext=%"x"'],
    ])('refuses %s', (_, param) => {
      expect(() =>
        sut(`sig1=("@authority");${param};tag="web-bot-auth"`, `sig1=:${SIGNATURE_B64}:`, WEB_BOT_AUTH),
      ).toThrow(coded('INVALID_SIGNATURE_INPUT'));
    });
  });

  // RFC 8941 Decimals parse to the same JS number as Integers (1.0 and 1).
  describe('Decimal parameters', () => {
    const sig = `sig1=:${SIGNATURE_B64}:`;

    it.each([
      ['created', 'created=1795779140.0'],
      ['expires', 'expires=1795779440.000'],
    ])('refuses %s given as a Decimal with a zero fraction (RFC 9421 section 2.3)', (parameter, param) => {
      const input = `sig1=("@authority");${param};keyid="k";tag="web-bot-auth"`;

      expect(captureDomainError(() => sut(input, sig, WEB_BOT_AUTH))).toMatchObject({
        code: 'INVALID_SIGNATURE_INPUT',
        detail: { reason: 'invalid_parameter', parameter },
      });
    });

    it('refuses created given as a Decimal in the last of two sig1 members', () => {
      const input = `sig1=("@authority");created=1;tag="web-bot-auth", sig1=("@authority");created=1.0;tag="web-bot-auth"`;

      expect(() => sut(input, sig, WEB_BOT_AUTH)).toThrow(coded('INVALID_SIGNATURE_INPUT', 'invalid_parameter'));
    });

    it.each([
      ['a zero fraction', ';x=1.0', ';x=1.0'],
      ['trailing zeros', ';x=-2.500', ';x=-2.5'],
      ['a fraction', ';x=0.125', ';x=0.125'],
      ['a Decimal then an Integer under one key (the last wins)', ';x=1.0;x=1', ';x=1'],
      ['an Integer then a Decimal under one key (the last wins)', ';x=1;x=1.0', ';x=1.0'],
    ])('keeps an extension Decimal a Decimal in @signature-params (%s)', (_name, sent, serialized) => {
      const parsed = sut(`sig1=("@authority");created=1;keyid="k";tag="web-bot-auth"${sent}`, sig, WEB_BOT_AUTH);

      expect(parsed.signatureParams).toBe(`("@authority");created=1;keyid="k";tag="web-bot-auth"${serialized}`);
    });

    it.each([
      ['a String', 'keyid="k.1.0";ext="created=1.0"'],
      ['a Token', 'ext=v1.0'],
      ['a key', 'a1.0=1'],
      ['another label', 'ext=1'],
    ])('is not fooled by a "." inside %s', (_name, extra) => {
      const input = `sig2=("x");created=1.0, sig1=("@authority");created=1;tag="web-bot-auth";${extra}`;
      const parsed = sut(input, sig, WEB_BOT_AUTH);

      expect(parsed.params.created).toBe(1);
      expect(parsed.signatureParams).toBe(`("@authority");created=1;tag="web-bot-auth";${extra}`);
    });
  });

  it('never echoes the nonce or signature in the error', () => {
    const error = captureDomainError(() =>
      sut(`sig1=${VESTAUTH_PARAMS};created="x"`, `sig1=:${SIGNATURE_B64}:`, WEB_BOT_AUTH),
    );

    expect(error.code).toBe('INVALID_SIGNATURE_INPUT');
    expect(`${error.message} ${JSON.stringify(error.detail)}`).not.toContain(NONCE);
    expect(`${error.message} ${JSON.stringify(error.detail)}`).not.toContain(SIGNATURE_B64);
  });
});

function captureDomainError(run: () => unknown): DomainError {
  try {
    run();
  } catch (error) {
    if (error instanceof DomainError) {
      return error;
    }
    throw error;
  }
  throw new Error('expected a DomainError');
}
