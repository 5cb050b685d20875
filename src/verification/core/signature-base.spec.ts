import { DomainError } from '../../common/errors/domain-error';
import { buildSignatureBase, coversAuthority, coversComponent, type RequestView } from './signature-base';
import { parseSignatureHeaders, type ParsedSignature } from './signature-headers';

const SIGNATURE = `sig1=:${Buffer.alloc(64).toString('base64')}:`;

function signed(components: string, params = ';created=1;tag="web-bot-auth"'): ParsedSignature {
  return parseSignatureHeaders(`sig1=(${components})${params}`, SIGNATURE, {
    requiredTag: 'web-bot-auth',
  });
}

function request(
  overrides: Partial<Omit<RequestView, 'header'>> = {},
  fields: Record<string, string[]> = {},
): RequestView {
  return {
    method: 'GET',
    scheme: 'https',
    authority: 'example.com',
    path: '/',
    query: '',
    header: (name) => fields[name],
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

describe(buildSignatureBase.name, () => {
  const sut = buildSignatureBase;

  it('builds the two-line vestauth base', () => {
    const parsed = signed('"@authority"', ';created=1795779140;keyid="k";tag="web-bot-auth"');

    expect(sut(parsed, request({ authority: 'agent-0123456789abcdef01234567.localhost:3000' }))).toBe(
      '"@authority": agent-0123456789abcdef01234567.localhost:3000\n' +
        '"@signature-params": ("@authority");created=1795779140;keyid="k";tag="web-bot-auth"',
    );
  });

  describe('derived components (RFC 9421 section 2.2)', () => {
    const view = request({
      method: 'POST',
      authority: 'www.example.com:8443',
      path: '/path/to%20x',
      query: '?param=Value&Pet=dog',
    });

    it.each([
      ['@method', 'POST'],
      ['@target-uri', 'https://www.example.com:8443/path/to%20x?param=Value&Pet=dog'],
      ['@authority', 'www.example.com:8443'],
      ['@scheme', 'https'],
      ['@request-target', '/path/to%20x?param=Value&Pet=dog'],
      ['@path', '/path/to%20x'],
      ['@query', '?param=Value&Pet=dog'],
    ])('computes %s', (name, value) => {
      const base = sut(signed(`"${name}"`), view);

      expect(base.split('\n')[0]).toBe(`"${name}": ${value}`);
    });

    it('gives "?" for @query when the request has no query (section 2.2.7)', () => {
      const base = sut(signed('"@query"'), request({ query: '' }));

      expect(base.split('\n')[0]).toBe('"@query": ?');
    });

    it('keeps the method as sent', () => {
      const base = sut(signed('"@method"'), request({ method: 'get' }));

      expect(base.split('\n')[0]).toBe('"@method": get');
    });
  });

  describe('HTTP fields (RFC 9421 section 2.1)', () => {
    it('trims each value and joins them with ", "', () => {
      const view = request({}, { 'x-list': ['  a, b ', '\tc\t'] });

      expect(sut(signed('"x-list"'), view).split('\n')[0]).toBe('"x-list": a, b, c');
    });

    it('replaces obsolete line folding with a space', () => {
      const view = request({}, { 'x-folded': ['one\r\n  two'] });

      expect(sut(signed('"x-folded"'), view).split('\n')[0]).toBe('"x-folded": one two');
    });

    it('keeps an empty field as an empty value', () => {
      const view = request({}, { 'x-empty': [''] });

      expect(sut(signed('"x-empty"'), view).split('\n')[0]).toBe('"x-empty": ');
    });

    it('refuses a covered field the request does not have', () => {
      expect(() => sut(signed('"content-digest"'), request())).toThrow(
        coded('INVALID_SIGNATURE', 'covered_field_absent'),
      );
    });

    it('treats a field with no values as absent', () => {
      expect(() => sut(signed('"x-none"'), request({}, { 'x-none': [] }))).toThrow(
        coded('INVALID_SIGNATURE', 'covered_field_absent'),
      );
    });

    // The helper's `fields[name]` is a plain-object lookup, like Node's req.headers.
    it.each(['constructor', '__proto__'])(
      'treats a covered field named %s, absent from a plain-object view, as absent (no 500)',
      (name) => {
        expect(() => sut(signed(`"${name}"`), request())).toThrow(
          coded('INVALID_SIGNATURE', 'covered_field_absent'),
        );
      },
    );

    it.each([
      ['a line feed', 'a\nb'],
      ['a carriage return', 'a\rb'],
      ['a non-ASCII character', 'caf\u00e9'],
      ['a control character', 'a\u0000b'],
    ])('refuses a value containing %s', (_, value) => {
      expect(() => sut(signed('"x-bad"'), request({}, { 'x-bad': [value] }))).toThrow(
        coded('INVALID_SIGNATURE', 'component_value_not_ascii'),
      );
    });

    it('refuses a derived value containing a line break', () => {
      expect(() => sut(signed('"@path"'), request({ path: '/a\nb' }))).toThrow(
        coded('INVALID_SIGNATURE', 'component_value_not_ascii'),
      );
    });
  });

  describe('field values (RFC 9421 section 2.1)', () => {
    it('trims leading and trailing spaces and tabs only, keeping inner runs, however long', () => {
      const padding = ' '.repeat(14_000);
      const members = Array.from({ length: 30 }, (_, i) => `k${i}=${i}`);
      const field = `${members[0]},${padding}${members.slice(1).join(',')}`;
      const view = request({}, { 'x-pad': [` \t ${field} \t `] });
      // Each covered member re-reads the padded field (30 times here).
      const components = members.map((_, i) => `"x-pad";key="k${i}"`).join(' ');

      const lines = sut(signed(components), view).split('\n');

      expect(lines.slice(0, 30)).toEqual(members.map((_, i) => `"x-pad";key="k${i}": ${i}`));
      expect(sut(signed('"x-pad"'), view).split('\n')[0]).toBe(`"x-pad": ${field}`);
      // (The quadratic trim this replaced took ~4.5 s of CPU on this input; timing is the bench's business, not a test's.)
    });
  });

  describe('dictionary member by key (RFC 9421 section 2.1.2)', () => {
    it('serializes the named member', () => {
      const header = 'agent2="https://signature-agent.test";type=directory';
      const view = request({}, { 'signature-agent': [header] });

      expect(sut(signed('"signature-agent";key="agent2"'), view).split('\n')[0]).toBe(
        '"signature-agent";key="agent2": "https://signature-agent.test";type=directory',
      );
    });

    it('serializes inner-list and boolean members strictly', () => {
      const view = request({}, { 'x-dict': ['a=(1   2);p, b'] });
      const base = sut(signed('"x-dict";key="a" "x-dict";key="b"'), view);

      expect(base.split('\n').slice(0, 2)).toEqual(['"x-dict";key="a": (1 2);p', '"x-dict";key="b": ?1']);
    });

    it('reads the member across several field lines', () => {
      const view = request({}, { 'x-dict': ['a=1', 'b=2'] });

      expect(sut(signed('"x-dict";key="b"'), view).split('\n')[0]).toBe('"x-dict";key="b": 2');
    });

    it('accepts sf alongside key', () => {
      const view = request({}, { 'x-dict': ['a=1'] });

      expect(sut(signed('"x-dict";key="a";sf'), view).split('\n')[0]).toBe('"x-dict";key="a";sf: 1');
    });

    it('refuses a missing member', () => {
      const view = request({}, { 'signature-agent': ['sig1="https://a.test"'] });

      expect(() => sut(signed('"signature-agent";key="agent2"'), view)).toThrow(
        coded('INVALID_SIGNATURE', 'covered_member_absent'),
      );
    });

    it('refuses a field that is not a dictionary', () => {
      const view = request({}, { 'signature-agent': ['"https://a.test"'] });

      expect(() => sut(signed('"signature-agent";key="sig1"'), view)).toThrow(
        coded('INVALID_SIGNATURE', 'covered_field_not_dictionary'),
      );
    });

    it.each([
      ['a member value', 'a=1.0, b=2'],
      ['a parameter', 'sig1="https://a.test";v=1.0'],
      ['an inner list item', 'a=(1 2.000)'],
      ['another member of the field', 'a=1, b=-3.0'],
    ])('refuses a field holding a Decimal with a zero fraction in %s (the library would sign it as an Integer)', (_where, field) => {
      const view = request({}, { 'x-dict': [field] });
      const key = field.startsWith('sig1') ? 'sig1' : 'a';

      expect(() => sut(signed(`"x-dict";key="${key}"`), view)).toThrow(coded('UNSUPPORTED_COMPONENT', 'integral_decimal'));
      expect(() => sut(signed('"signature-agent";sf'), request({}, { 'signature-agent': [field] }))).toThrow(
        coded('UNSUPPORTED_COMPONENT', 'integral_decimal'),
      );
    });

    it('serializes a Decimal with a fraction, and "1.0" inside a string, as they are', () => {
      const view = request({}, { 'x-dict': ['a=1.5;v="1.0"'] });

      expect(sut(signed('"x-dict";key="a"'), view).split('\n')[0]).toBe('"x-dict";key="a": 1.5;v="1.0"');
    });

    it('refuses a non-string key', () => {
      const view = request({}, { 'x-dict': ['a=1'] });

      expect(() => sut(signed('"x-dict";key=1'), view)).toThrow(coded('INVALID_SIGNATURE_INPUT'));
    });
  });

  describe('strict serialization (RFC 9421 section 2.1.1)', () => {
    it('re-serializes a known dictionary field', () => {
      const view = request({}, { 'signature-agent': ['sig1="https://a.test"  ,  other="https://b.test"'] });

      expect(sut(signed('"signature-agent";sf'), view).split('\n')[0]).toBe(
        '"signature-agent";sf: sig1="https://a.test", other="https://b.test"',
      );
    });

    it('refuses sf on a field whose structured type we do not know', () => {
      const view = request({}, { 'x-unknown': ['a'] });

      expect(() => sut(signed('"x-unknown";sf'), view)).toThrow(coded('UNSUPPORTED_COMPONENT'));
    });

    it('refuses sf=?0', () => {
      const view = request({}, { 'signature-agent': ['sig1="https://a.test"'] });

      expect(() => sut(signed('"signature-agent";sf=?0'), view)).toThrow(coded('INVALID_SIGNATURE_INPUT'));
    });
  });

  describe('unsupported components fail closed', () => {
    const view = request({ query: '?a=1' }, { 'x-h': ['v'] });

    it.each([
      '"x-h";bs',
      '"x-h";req',
      '"x-h";tr',
      '"x-h";name="a"',
      '"@query-param";name="a"',
      '"@status"',
      '"@unknown"',
      '"@method";req',
      '"@authority";key="a"',
    ])('refuses %s', (component) => {
      expect(() => sut(signed(component), view)).toThrow(coded('UNSUPPORTED_COMPONENT'));
    });
  });

  it('ends with the @signature-params line and no trailing newline', () => {
    const base = sut(signed('"@method" "@path"', ';created=1;nonce="abc";tag="web-bot-auth"'), request());

    expect(base).toBe(
      '"@method": GET\n"@path": /\n' +
        '"@signature-params": ("@method" "@path");created=1;nonce="abc";tag="web-bot-auth"',
    );
  });
});

describe(coversComponent.name, () => {
  const sut = coversComponent;

  it('matches a covered component with or without parameters', () => {
    const parsed = signed('"@path" "signature-agent";key="sig1"');

    expect(sut(parsed, '@path')).toBe(true);
    expect(sut(parsed, 'signature-agent')).toBe(true);
    expect(sut(parsed, '@method')).toBe(false);
  });
});

describe(coversAuthority.name, () => {
  const sut = coversAuthority;

  it.each([
    ['"@authority"', true],
    ['"@target-uri"', true],
    ['"@path" "@method"', false],
    ['', false],
  ])('for (%s) is %p', (components, expected) => {
    expect(sut(signed(components))).toBe(expected);
  });
});
