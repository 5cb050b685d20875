import fc from 'fast-check';
import { parseDictionary } from 'structured-headers';
import { decimalParameters, hasIntegralDecimal, serializeDecimalExactly } from './structured-decimals';

describe(decimalParameters.name, () => {
  const sut = (header: string, key = 'sig1') => {
    parseDictionary(header); // the caller always has a header the library parsed
    return [...decimalParameters(header, key)].sort();
  };

  it.each<[string, string, string[]]>([
    ['no "." at all', 'sig1=("@authority");created=1;expires=2', []],
    ['Integers next to a Decimal', 'sig1=("@authority");created=1;x=1.0;expires=2', ['x']],
    ['negative and fractional Decimals', 'sig1=();a=-1.5;b=0.000;c=12', ['a', 'b']],
    ['a Decimal as a bare parameter then a flag', 'sig1=();a=1.0;a', []],
    ['Decimals only in another member', 'sig2=();created=1.0, sig1=();created=1', []],
    ['a repeated member: the last one', 'sig1=();created=1, sig1=();created=1.0', ['created']],
    ['a Decimal in a component parameter only', 'sig1=("x";p=1.0 "y");q=2', []],
    ['dots in strings, escaped quotes and tokens', 'sig1=("a.b" "c\\".0");k="x;y=1.0";t=v1.0;u=*a.0', []],
    ['a byte sequence before a Decimal', 'sig1=();b=:AAAA:;d=3.25', ['d']],
    ['a display string with a backslash before a Decimal', 'sig2=();p=%"a\\", sig1=();created=1.0', ['created']],
    ['a member that is an Item', 'sig1=1.0;p=2.0', ['p']],
    ['whitespace around members', 'sig0=1,   sig1=();x=4.5 , sig2=?1', ['x']],
  ])('%s', (_name, header, expected) => {
    expect(sut(header)).toEqual(expected);
  });
});

describe(serializeDecimalExactly.name, () => {
  it.each<[number, string]>([
    [1, '1.0'],
    [-1, '-1.0'],
    [1.5, '1.5'],
    [0.125, '0.125'],
    [1795779140, '1795779140.0'],
  ])('%d as a Decimal is %s (RFC 8941 section 4.1.5)', (value, text) => {
    expect(serializeDecimalExactly(value)).toBe(text);
  });
});

// The scanner must agree with the library on every header the library parses.
describe('decimalParameters against generated dictionaries (property-based)', () => {
  type Param = { key: string; text: string; decimal: boolean };
  const key = fc.stringMatching(/^[a-z*][a-z0-9_.*-]{0,4}$/);
  const decimal = fc
    .tuple(fc.boolean(), fc.integer({ min: 0, max: 999_999 }), fc.stringMatching(/^[0-9]{1,3}$/))
    .map(([neg, int, frac]) => `${neg ? '-' : ''}${int}.${frac}`);
  const other = fc.oneof(
    fc.integer({ min: -999_999, max: 999_999 }).map(String),
    fc.stringMatching(/^[ -!#-[\]-~]{0,6}$/).map((t) => `"${t.replace(/\\/g, '')}"`),
    fc.constantFrom('"a\\"1.0"', '"x;y=1.0, z"', 'tok.1.0', '*a:b/1.0', '?1', ':AAAA:', '%"a\\"'),
  );
  const param = fc.oneof(
    decimal.chain((text) => key.map((k): Param => ({ key: k, text: `;${k}=${text}`, decimal: true }))),
    other.chain((text) => key.map((k): Param => ({ key: k, text: `;${k}=${text}`, decimal: false }))),
    key.map((k): Param => ({ key: k, text: `;${k}`, decimal: false })),
  );
  const item = fc.tuple(other, fc.array(param, { maxLength: 2 })).map(([v, ps]) => v + ps.map((p) => p.text).join(''));
  const member = fc.record({
    label: fc.constantFrom('sig1', 'sig2', 'a.b'),
    value: fc.oneof(
      fc.array(item, { maxLength: 3 }).map((items) => `=(${items.join(' ')})`),
      item.map((i) => `=${i.replace(/;.*$/, '')}`),
      fc.constant(''),
    ),
    params: fc.array(param, { maxLength: 4 }),
  });

  it('finds exactly the Decimal parameters of the last member with the label', () => {
    fc.assert(
      fc.property(fc.array(member, { minLength: 1, maxLength: 4 }), fc.constantFrom(',', ', ', ' ,\t'), (members, sep) => {
        const header = members.map((m) => m.label + m.value + m.params.map((p) => p.text).join('')).join(sep);
        try {
          parseDictionary(header);
        } catch {
          return; // only headers the library accepts reach the scanner
        }
        const last = [...members].reverse().find((m) => m.label === 'sig1');
        const expected = new Map<string, boolean>();
        for (const p of last?.params ?? []) expected.set(p.key, p.decimal);
        const want = [...expected].filter(([, d]) => d).map(([k]) => k).sort();
        expect([...decimalParameters(header, 'sig1')].sort()).toEqual(want);
      }),
      { seed: 20260127, numRuns: 2_000 },
    );
  });

  it('returns for any string, never throws or loops', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9 .;,=()"\\:%*?@-]{0,40}$/), (text) => {
        decimalParameters(text, 'sig1');
      }),
      { seed: 20260127, numRuns: 2_000 },
    );
  });
});

describe(hasIntegralDecimal.name, () => {
  it.each(['a=1.0', 'a=-3.0', 'a;p=2.00', 'a=(1 2.0)', 'a=(1);q=0.0', 'x="s", a=1, b=7.000'])('finds one in %s', (field) => {
    expect(hasIntegralDecimal(field)).toBe(true);
  });

  it.each(['a=1', 'a=1.5', 'a="1.0"', 'a=x.0', 'a=:MS4w:', 'a=(1 2);p="3.0"', 'sig1="https://agent.example:3000"'])('finds none in %s', (field) => {
    expect(hasIntegralDecimal(field)).toBe(false);
  });
});
