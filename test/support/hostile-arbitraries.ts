import { createHash } from 'node:crypto';
import fc from 'fast-check';

/**
 * Hostile inputs for the property-based tests (issue 7): generators for
 * RFC 8941 structured-field text, the three signature headers, Host, JWKs
 * and JSON bodies, plus mutation plans applied to real headers made by
 * test/factories/agent.factory.ts. Shared by the unit suite, the e2e suite
 * and scripts/fuzz.ts, so a counterexample found by one reproduces in the
 * others. Everything here is pure data: signing happens when a case runs,
 * so nonces and timestamps stay fresh while the plan stays seeded.
 */

/** The seed every run uses unless told otherwise (FUZZ_SEED, --seed). */
export const FUZZ_SEED = 424242;

// ---------------------------------------------------------------------------
// Text

/** Characters that delimit or escape something in a header, a URL or JSON. */
const SPECIAL_CHARS = [
  '', ' ', '\t', '\r\n', '\n', '\r\n ', '\u0000', '\u007f', '"', '\\', ':', ';', ',', '=', '(', ')', '?', '@', '%',
  '*', '/', '.', '[', ']', '{', '}', '<', '>', '\u00e9', '\u00ff', '\u0100', '\u2028', '\u202e', '\ufeff', '\ud800',
  '\udfff', '\uffff', '\u{1f4a5}', 'a\u0300', '%00', '%ZZ', '../', '__proto__', 'constructor', 'prototype', 'toString',
];

/** Short strings over every class of character, lone surrogates included. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_CHARS) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom(...SPECIAL_CHARS), { maxLength: 8 }).map((parts) => parts.join('')) },
  // Text with one character that storage refuses (NUL, a lone surrogate) or that ends a line.
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 8 }), fc.constantFrom('\u0000', '\ud800', '\udfff', '\u0001', '\n', '\u2028'), fc.string({ maxLength: 8 })).map((parts) => parts.join('')) },
);

const hex24 = fc.stringMatching(/^[0-9a-f]{24}$/);
export const agentUidArb: fc.Arbitrary<string> = hex24.map((hex) => `agent-${hex}`);

// ---------------------------------------------------------------------------
// RFC 8941 structured-field text
//
// Generated text is nearly always well-formed, with values of the wrong
// type, range or meaning, so cases get past the structured-field parser
// into the checks behind it. A header holds dozens of items, so each is
// broken only rarely; the mutations (below) break syntax on purpose.

/** Valid, and now and then `broken`. */
function mostly(valid: fc.Arbitrary<string>, broken: fc.Arbitrary<string>, brokenWeight = 1): fc.Arbitrary<string> {
  return fc.oneof({ weight: 60, arbitrary: valid }, { weight: brokenWeight, arbitrary: broken });
}

const validKey = fc.oneof(
  fc.stringMatching(/^[a-z*][a-z0-9_.*-]{0,7}$/),
  fc.constantFrom(
    'sig1', 'sig2', 'constructor', 'tostring', 'valueof', 'sha-256', 'sha-512', 'md5', 'key', 'type', 'tag', 'keyid',
    'nonce', 'created', 'expires', 'alg', 'sf', 'bs', 'req', 'tr', 'name',
  ),
);

/** Dictionary keys and parameter names, including the ones that shadow Object.prototype. */
export const sfKey: fc.Arbitrary<string> = mostly(
  validKey,
  fc.constantFrom('__proto__', 'Sig1', '1sig', '', 'hasOwnProperty', 'sig 1', 'sig1\u0000', '-'),
);

const sfIntegerText = mostly(
  fc.oneof(
    fc.integer({ min: -999_999_999_999_999, max: 999_999_999_999_999 }).map(String),
    fc.constantFrom('1795779140', '0', '-0', '-1', '999999999999999', '-999999999999999', '00001'),
  ),
  fc.oneof(
    fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
    fc.constantFrom('9999999999999999', '1000000000000000', '1e3', '0x1f', '+1', '1.', '.5', 'NaN', 'Infinity', '9007199254740993'),
  ),
);

const sfDecimalText = mostly(
  fc.tuple(fc.integer({ min: -999_999_999_999, max: 999_999_999_999 }), fc.integer({ min: 0, max: 999 })).map(([i, f]) => `${i}.${f}`),
  fc.constantFrom('1234567890123.4', '1.2345', '1.', '1..2', '-.5'),
);

function escapeSfString(text: string): string {
  return text.replace(/[\\"]/g, (c) => `\\${c}`);
}

const sfStringText = mostly(
  fc.oneof(
    fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => `"${escapeSfString(s)}"`),
    fc.constantFrom('""', '"web-bot-auth"', '"null"', '"ed25519"', '"constructor"', '"__proto__"', '"directory"'),
  ),
  fc.oneof(hostileText.map((s) => `"${escapeSfString(s)}"`), hostileText.map((s) => `"${s}"`), fc.constantFrom('"', '"unterminated', '"\\x"', '"a\\"')),
);

const sfTokenText = fc.oneof(
  fc.stringMatching(/^[A-Za-z*][A-Za-z0-9:/!#$%&'*+.^_`|~-]{0,12}$/),
  fc.constantFrom('web-bot-auth', 'ed25519', 'directory', 'http://agent.localhost', 'sig1', 'constructor'),
);

/** Byte-sequence payloads: base64 of any length, and the ways base64 goes wrong. */
const badBase64: fc.Arbitrary<string> = fc.oneof(
  fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b).toString('base64url')),
  fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b).toString('base64').replace(/=+$/, '')),
  fc.uint8Array({ minLength: 1, maxLength: 80 }).map((b) => `${Buffer.from(b).toString('base64')}==`),
  fc.string({ unit: fc.constantFrom(...'ABCabc019+/=-_ .:'), maxLength: 24 }),
  hostileText,
);

const sfByteSequenceText = mostly(
  fc.oneof(
    fc.uint8Array({ maxLength: 96 }).map((b) => `:${Buffer.from(b).toString('base64')}:`),
    fc.constantFrom('::', ':AAAA:', `:${Buffer.alloc(64).toString('base64')}:`),
  ),
  fc.oneof(badBase64.map((s) => `:${s}:`), fc.constantFrom(':', ':AAAA', 'AAAA:')),
  3,
);

const sfBooleanText = mostly(fc.constantFrom('?0', '?1'), fc.constantFrom('?2', '?', '?true'));
const sfDateText = mostly(fc.integer({ min: -999_999_999_999, max: 999_999_999_999 }).map((n) => `@${n}`), fc.constantFrom('@', '@1.5', '@-'));
const sfDisplayStringText = mostly(
  hostileText.map((s) => `%"${encodeURIComponent(stripLoneSurrogates(s)).replace(/%([0-9A-F]{2})/g, (m) => m.toLowerCase())}"`),
  fc.constantFrom('%"%ZZ"', '%"%c3"', '%"', '%"a', '%"%C3%A9"'),
);

/** One bare item of any RFC 8941/9651 type (dates and display strings too), or something that almost is one. */
// Dates are rare: structured-headers 2.1.0 fails on anything after a Date
// (`1;a=@5;b` does not parse), which would sink the whole header.
const sfBareItemText: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: sfIntegerText },
  { weight: 4, arbitrary: sfDecimalText },
  { weight: 12, arbitrary: sfStringText },
  { weight: 8, arbitrary: sfTokenText },
  { weight: 8, arbitrary: sfByteSequenceText },
  { weight: 4, arbitrary: sfBooleanText },
  { weight: 1, arbitrary: sfDateText },
  { weight: 3, arbitrary: sfDisplayStringText },
);

const sfParamsText: fc.Arbitrary<string> = fc
  .array(fc.tuple(sfKey, fc.option(sfBareItemText)), { maxLength: 3 })
  .map((params) => params.map(([key, value]) => (value === null ? `;${key}` : `;${key}=${value}`)).join(''));

const sfItemText: fc.Arbitrary<string> = fc.tuple(sfBareItemText, sfParamsText).map(([item, params]) => item + params);

const listSeparator = mostly(fc.constantFrom(' ', '  '), fc.constantFrom('', '\t', ',', ' , '));

const sfInnerListText: fc.Arbitrary<string> = fc
  .tuple(fc.array(sfItemText, { maxLength: 5 }), sfParamsText, listSeparator)
  .map(([items, params, sep]) => `(${items.join(sep)})${params}`);

/** Inner lists inside inner lists (which RFC 8941 forbids), as deep as a header allows. */
const nestedListText = fc
  .tuple(fc.integer({ min: 1, max: 2000 }), fc.constantFrom('', '"@authority"', '1', ';a=1'))
  .map(([depth, core]) => `${'('.repeat(depth)}${core}${')'.repeat(depth)}`);

const sfMemberText: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(sfKey, sfItemText).map(([key, item]) => `${key}=${item}`) },
  { weight: 6, arbitrary: fc.tuple(sfKey, sfInnerListText).map(([key, list]) => `${key}=${list}`) },
  { weight: 2, arbitrary: fc.tuple(sfKey, sfParamsText).map(([key, params]) => key + params) },
  { weight: 1, arbitrary: fc.tuple(sfKey, nestedListText).map(([key, list]) => `${key}=${list}`) },
);

const dictionarySeparator = mostly(fc.constantFrom(', ', ',', ' ,  ', ',\t'), fc.constantFrom(';', ' ', ',,', ', \t,'));

export const sfDictionaryText: fc.Arbitrary<string> = fc
  .tuple(fc.array(sfMemberText, { maxLength: 6 }), dictionarySeparator)
  .map(([members, sep]) => members.join(sep));

// ---------------------------------------------------------------------------
// Signature-Input, Signature, Signature-Agent built from parts

/** Covered component identifiers: supported, unsupported, forbidden and mistyped. */
export const componentIdText: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '"@authority"', '"@method"', '"@path"', '"@query"', '"@target-uri"', '"@scheme"', '"@request-target"',
      '"@signature-params"', '"@query-param";name="a"', '"@status"', '"@authority";req', '"signature-agent"',
      '"signature-agent";key="sig1"', '"signature-agent";key="sig2"', '"signature-agent";sf', '"signature-agent";key=1',
      '"signature-agent";sf=?0', '"signature-agent";key="sig1";sf', '"content-digest"', '"content-digest";sf',
      '"content-digest";key="sha-256"', '"content-digest";key="constructor"', '"x-custom"', '"x-custom";bs', '"host"',
      '"@AUTHORITY"', '""', '"@"', '"content-type";tr', '"user-agent"', '"signature"',
    ),
  },
  { weight: 1, arbitrary: sfItemText },
);

/** Parameter values for one Signature-Input parameter: plausible or of the wrong type. */
function paramValueText(plausible: fc.Arbitrary<string>): fc.Arbitrary<string | null> {
  return fc.oneof(
    { weight: 24, arbitrary: plausible },
    { weight: 8, arbitrary: sfBareItemText },
    { weight: 4, arbitrary: fc.constant(null) },
    // An inner list where an item belongs: a syntax error for the whole field.
    { weight: 1, arbitrary: sfInnerListText },
  );
}

/** A unix time close to `now`, or far from it, or not an integer at all. */
function timestampText(now: number): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: -400, max: 400 }).map((d) => String(now + d)) },
    { weight: 1, arbitrary: sfIntegerText },
  );
}

export function signatureInputText(now: number): fc.Arbitrary<string> {
  const params = fc.record({
    created: paramValueText(timestampText(now)),
    keyid: paramValueText(fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{43}$/), sfStringText).map((s) => (s.startsWith('"') ? s : `"${s}"`))),
    alg: paramValueText(fc.constantFrom('"ed25519"', '"rsa-pss-sha512"', '"ecdsa-p256-sha256"', '"hmac-sha256"', '"ED25519"', '""')),
    expires: paramValueText(timestampText(now + 300)),
    nonce: paramValueText(fc.oneof(fc.uint8Array({ maxLength: 256 }).map((b) => `"${Buffer.from(b).toString('base64url')}"`), sfStringText)),
    tag: paramValueText(fc.oneof({ weight: 4, arbitrary: fc.constant('"web-bot-auth"') }, { weight: 1, arbitrary: fc.constantFrom('"null"', '"WEB-BOT-AUTH"', '""', 'web-bot-auth') })),
  });
  const member = fc
    .tuple(
      fc.oneof({ weight: 4, arbitrary: fc.constant('sig1') }, { weight: 1, arbitrary: sfKey }),
      fc.array(componentIdText, { maxLength: 6 }),
      listSeparator,
      params,
      sfParamsText,
    )
    .map(([label, components, sep, p, extra]) => {
      const rendered = Object.entries(p)
        .filter((entry): entry is [string, string] => entry[1] !== null)
        .map(([name, value]) => `;${name}=${value}`)
        .join('');
      return `${label}=(${components.join(sep)})${rendered}${extra}`;
    });
  return fc.oneof(
    { weight: 4, arbitrary: member },
    { weight: 2, arbitrary: fc.tuple(fc.array(member, { minLength: 2, maxLength: 4 }), dictionarySeparator).map(([m, sep]) => m.join(sep)) },
    { weight: 1, arbitrary: sfDictionaryText },
  );
}

export const signatureText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom('sig1', 'sig2'), sfByteSequenceText, sfParamsText).map(([l, b, p]) => `${l}=${b}${p}`) },
  { weight: 1, arbitrary: fc.tuple(sfKey, sfItemText).map(([l, i]) => `${l}=${i}`) },
  { weight: 1, arbitrary: sfDictionaryText },
);

/** Signature-Agent values: origins of every shape, as items, strings, tokens or dictionaries. */
export function signatureAgentText(authority: string, uids: readonly string[] = []): fc.Arbitrary<string> {
  const uid = uids.length > 0 ? fc.oneof(fc.constantFrom(...uids), agentUidArb) : agentUidArb;
  const origin = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom('http://', 'https://', '', 'HTTP://', 'ftp://', '//'), hostArb(authority, uid)).map(([s, h]) => s + h) },
    { weight: 1, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
    { weight: 1, arbitrary: hostileText },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'http://user:pw@agent-000000000000000000000000.localhost', 'http://[::1]:3000', 'http://[::ffff:127.0.0.1]/',
        'http://127.0.0.1:99999', 'http://agent-000000000000000000000000.localhost:0', 'http://a%2eb/', 'http://a\\b/',
        `http://${'a'.repeat(600)}.localhost`, 'http://agent-000000000000000000000000.localhost/.well-known/x',
      ),
    },
  );
  const memberValue = fc.oneof(
    { weight: 4, arbitrary: origin.map((o) => `"${escapeSfString(o)}"`) },
    { weight: 1, arbitrary: origin },
    { weight: 1, arbitrary: sfBareItemText },
  );
  const typeParam = fc.constantFrom('', '', ';type=directory', ';type="directory"', ';type=jwks', ';type=1', ';type');
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom('sig1', 'sig2'), memberValue, typeParam).map(([k, v, t]) => `${k}=${v}${t}`) },
    { weight: 2, arbitrary: fc.tuple(memberValue, typeParam).map(([v, t]) => v + t) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.array(fc.tuple(sfKey, memberValue), { minLength: 2, maxLength: 4 }), dictionarySeparator)
        .map(([members, sep]) => members.map(([k, v]) => `${k}=${v}`).join(sep)),
    },
    { weight: 1, arbitrary: sfDictionaryText },
  );
}

// ---------------------------------------------------------------------------
// Host

/** Host values around `authority` (host[:port]): agent hosts, near misses and junk. */
export function hostArb(authority: string, uid: fc.Arbitrary<string> = agentUidArb): fc.Arbitrary<string> {
  const [name, port] = splitAuthority(authority);
  const agentHost = uid.map((u) => `${u}.${authority}`);
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(authority) },
    { weight: 4, arbitrary: agentHost },
    { weight: 2, arbitrary: fc.mixedCase(agentHost) },
    {
      weight: 3,
      arbitrary: fc.tuple(uid, fc.constantFrom(...NEAR_MISS_HOSTS)).map(([u, template]) => {
        const slots: Readonly<Record<string, string>> = { uid: u, UID: u.toUpperCase(), authority, name, port };
        return template.replace(/\{(\w+)\}/g, (_, slot: string) => slots[slot] ?? slot);
      }),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '', ' ', `[::1]:${port}`, '[::1]', '[', `${name}:${port}:${port}`, `${'a'.repeat(64)}.${authority}`,
        `${'a.'.repeat(200)}${authority}`, '127.0.0.1', '0', 'localhost', `agent-.${authority}`,
      ),
    },
    { weight: 1, arbitrary: fc.tuple(hostileText, fc.constantFrom('', `.${authority}`)).map(([junk, suffix]) => junk + suffix) },
  );
}

// Templates over {uid}, {UID}, {authority} (host:port), {name} and {port}:
// nested labels, wrong or missing ports, case, look-alike and smuggled hosts.
const NEAR_MISS_HOSTS = [
  'a.{uid}.{authority}', '{uid}.{uid}.{authority}', '{uid}.{name}', '{uid}.{name}:0', '{uid}.{name}:99999', '{uid}.{name}:',
  '{uid}.{name}:80', '{uid}.{name}.:{port}', '.{uid}.{authority}', '{uid}..{authority}', '{uid}.{authority}.evil.example',
  '{uid}.{authority}@evil.example', 'evil.example#{uid}.{authority}', ' {uid}.{authority} ', '{UID}.{authority}',
  'x{uid}.{authority}', '{uid}0.{authority}', 'agent_{uid}.{authority}', '{uid}\u00e1.{authority}', 'xn--{uid}.{authority}',
  '[{uid}].{authority}', '{uid}%2e{authority}', '{uid}.{authority}:{port}', '{uid}.{name}:0{port}',
];

function splitAuthority(authority: string): [string, string] {
  const colon = authority.lastIndexOf(':');
  return colon === -1 ? [authority, ''] : [authority.slice(0, colon), authority.slice(colon + 1)];
}

// ---------------------------------------------------------------------------
// Mutations of real header values

export type HeaderMutation =
  | { readonly op: 'keep' }
  | { readonly op: 'drop' }
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'splice'; readonly at: number; readonly remove: number; readonly insert: string }
  | { readonly op: 'replace'; readonly value: string }
  | { readonly op: 'duplicate'; readonly separator: string }
  | { readonly op: 'append'; readonly member: string }
  | { readonly op: 'inflate'; readonly size: number; readonly fill: string }
  | { readonly op: 'setParam'; readonly name: string; readonly value: string | null }
  | { readonly op: 'relabel'; readonly label: string }
  | { readonly op: 'corruptBytes'; readonly value: string }
  | { readonly op: 'components'; readonly components: readonly string[] };

/**
 * Header sizes to inflate to. Node refuses more than 16 KiB of headers in
 * all (431); the parsers cap signature headers at a few KiB. Most sizes fit
 * under Node's limit so the application, not Node, sees them.
 */
const inflateSize: fc.Arbitrary<number> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 100, max: 8_000 }) },
  { weight: 3, arbitrary: fc.integer({ min: 8_193, max: 14_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 17_000, max: 40_000 }) },
);

const fraction = fc.double({ min: 0, max: 1, noNaN: true });

const spliceInsert = fc.oneof(hostileText, sfBareItemText, sfMemberText, fc.constantFrom(',', ';', '=', '"', ':', '(', ')', ' ', '\\', ', sig1=', '=:', ')('));

export const headerMutation: fc.Arbitrary<HeaderMutation> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ op: 'drop' } as const) },
  { weight: 3, arbitrary: fraction.map((at) => ({ op: 'truncate', at }) as const) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('splice' as const), at: fraction, remove: fc.nat(12), insert: spliceInsert }) },
  { weight: 2, arbitrary: fc.oneof(sfDictionaryText, hostileText, sfItemText).map((value) => ({ op: 'replace', value }) as const) },
  { weight: 1, arbitrary: fc.constantFrom(', ', ',', '', ' ').map((separator) => ({ op: 'duplicate', separator }) as const) },
  { weight: 2, arbitrary: sfMemberText.map((member) => ({ op: 'append', member }) as const) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('inflate' as const), size: inflateSize, fill: fc.constantFrom('A', 'a,', '(', '"\\', ';a=1', '\u00e9', ' ') }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('setParam' as const),
      name: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('created', 'expires', 'keyid', 'alg', 'nonce', 'tag', 'type') }, { weight: 1, arbitrary: sfKey }),
      value: fc.oneof(sfBareItemText, sfInnerListText, fc.constant(null)),
    }),
  },
  { weight: 1, arbitrary: sfKey.map((label) => ({ op: 'relabel', label }) as const) },
  { weight: 2, arbitrary: badBase64.map((value) => ({ op: 'corruptBytes', value }) as const) },
  { weight: 2, arbitrary: fc.array(componentIdText, { maxLength: 6 }).map((components) => ({ op: 'components', components }) as const) },
);

/** Mostly unchanged, so a case usually breaks one thing and reaches deep into the pipeline. */
export function maybeMutation(keepWeight = 3): fc.Arbitrary<HeaderMutation> {
  return fc.oneof({ weight: keepWeight, arbitrary: fc.constant({ op: 'keep' } as const) }, { weight: 2, arbitrary: headerMutation });
}

/** Applies a mutation plan to a header value (undefined: header absent). */
export function applyMutation(value: string | undefined, mutation: HeaderMutation): string | undefined {
  const v = value ?? '';
  const at = (fractionOf: number): number => Math.floor(fractionOf * v.length);
  switch (mutation.op) {
    case 'keep':
      return value;
    case 'drop':
      return undefined;
    case 'truncate':
      return v.slice(0, at(mutation.at));
    case 'splice': {
      const start = at(mutation.at);
      return v.slice(0, start) + mutation.insert + v.slice(start + mutation.remove);
    }
    case 'replace':
      return mutation.value;
    case 'duplicate':
      return `${v}${mutation.separator}${v}`;
    case 'append':
      return `${v}, ${mutation.member}`;
    case 'inflate':
      return `${v}${mutation.fill.repeat(Math.ceil(mutation.size / mutation.fill.length))}`.slice(0, Math.max(v.length, mutation.size));
    case 'setParam':
      return setParam(v, mutation.name, mutation.value);
    case 'relabel':
      return v.replace(/^[^=]*=/, `${mutation.label}=`);
    case 'corruptBytes':
      return v.includes(':') ? v.replace(/:[^:]*:/, `:${mutation.value}:`) : `${v}:${mutation.value}:`;
    case 'components':
      return v.includes('(') ? v.replace(/\([^)]*\)/, `(${mutation.components.join(' ')})`) : `${v}(${mutation.components.join(' ')})`;
  }
}

// Replaces every `;name=value` (value up to the next `;` or `,`), or
// appends the parameter when absent; a null value leaves the bare name.
function setParam(value: string, name: string, replacement: string | null): string {
  const rendered = replacement === null ? `;${name}` : `;${name}=${replacement}`;
  const pattern = new RegExp(`;${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(=[^;,]*)?`, 'g');
  return pattern.test(value) ? value.replace(pattern, () => rendered) : value + rendered;
}

// ---------------------------------------------------------------------------
// JWKs and JSON bodies

export type JwkMutation =
  | { readonly op: 'keep' }
  | { readonly op: 'set'; readonly member: string; readonly value: unknown }
  | { readonly op: 'delete'; readonly member: string }
  | { readonly op: 'replace'; readonly value: unknown };

const jwkMember = fc.constantFrom(
  'kty', 'crv', 'x', 'x', 'x', 'y', 'kid', 'kid', 'd', 'n', 'e', 'alg', 'use', 'key_ops', 'k', 'oth', '__proto__', 'constructor', 'toString',
);

/** Values for JWK members: right-looking strings of the wrong length or alphabet, and wrong types. */
const jwkMemberValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('OKP', 'EC', 'RSA', 'oct', 'Ed25519', 'Ed448', 'X25519', 'P-256', 'P-384', 'EdDSA', '') },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 70 }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })).map((b) => Buffer.from(b).toString('base64url')) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `${Buffer.from(b).toString('base64url')}=`) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64')) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{43}$/) },
  { weight: 2, arbitrary: hostileText },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, true, 0, -1, 1e308, Number.MAX_SAFE_INTEGER + 2, [], {}, ['OKP'], { toString: 'x' }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 200_000 }).map((n) => 'A'.repeat(n)) },
);

export const jwkMutation: fc.Arbitrary<JwkMutation> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ op: 'keep' } as const) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), member: jwkMember, value: jwkMemberValue }) },
  { weight: 2, arbitrary: jwkMember.map((member) => ({ op: 'delete', member }) as const) },
  { weight: 1, arbitrary: fc.oneof(jwkMemberValue, fc.anything({ maxDepth: 2 })).map((value) => ({ op: 'replace', value }) as const) },
);

/**
 * Applies a JWK mutation. Members are defined as own properties, so
 * `__proto__` and `constructor` become data members, as JSON.parse makes
 * them on the server, not a prototype change.
 */
export function applyJwkMutation(jwk: Readonly<Record<string, unknown>>, mutation: JwkMutation): unknown {
  switch (mutation.op) {
    case 'keep':
      return { ...jwk };
    case 'replace':
      return mutation.value;
    case 'delete': {
      const copy: Record<string, unknown> = { ...jwk };
      delete copy[mutation.member];
      return copy;
    }
    case 'set': {
      const copy: Record<string, unknown> = { ...jwk };
      Object.defineProperty(copy, mutation.member, { value: mutation.value, enumerable: true, writable: true, configurable: true });
      return copy;
    }
  }
}

export type BodyPlan =
  | { readonly kind: 'valid' }
  | { readonly kind: 'jwk'; readonly mutations: readonly JwkMutation[] }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'nested'; readonly depth: number; readonly shape: 'array' | 'object' | 'jwk-member' }
  | { readonly kind: 'truncated'; readonly at: number }
  | { readonly kind: 'huge'; readonly size: number }
  | { readonly kind: 'duplicateKeys'; readonly value: unknown }
  | { readonly kind: 'topLevel'; readonly extra: readonly [string, unknown] };

/**
 * JSON bodies built around a valid one: the JWK mutated, deep nesting (up
 * to and past the body limit), truncation, duplicate and prototype keys,
 * numbers out of range and text that is not JSON at all.
 */
export const bodyPlan: fc.Arbitrary<BodyPlan> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'valid' } as const) },
  { weight: 6, arbitrary: fc.array(jwkMutation, { minLength: 1, maxLength: 3 }).map((mutations) => ({ kind: 'jwk', mutations }) as const) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        hostileText,
        fc.constantFrom(
          '', 'null', '[]', '"str"', '1e999', 'true', '{', '{"public_jwk":', '{"public_jwk":null}', '{"public_jwk":[]}',
          '{"public_jwk":"x"}', '{"public_jwk":{"kty":1e999,"crv":-0,"x":123456789012345678901234567890}}',
          '{"public_jwk":{"kty":"\\u0000OKP","crv":"Ed25519","x":"\\ud800"}}', '{"__proto__":{"public_jwk":{"kty":"OKP"}}}',
          '{"public_jwk":{"__proto__":{"kty":"OKP","crv":"Ed25519"}}}', '{"constructor":{"prototype":{"admin":true}}}',
          '\ufeff{}', '{"public_jwk":{}}', '{"public_jwk":{"kty":"OKP","crv":"Ed25519","x":"","kid":""}}',
        ),
      )
      .map((text) => ({ kind: 'text', text }) as const),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('nested' as const),
      depth: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1_000, max: 40_000 })),
      shape: fc.constantFrom('array' as const, 'object' as const, 'jwk-member' as const),
    }),
  },
  { weight: 1, arbitrary: fraction.map((at) => ({ kind: 'truncated', at }) as const) },
  { weight: 1, arbitrary: fc.oneof(fc.integer({ min: 1_000, max: 60_000 }), fc.integer({ min: 70_000, max: 200_000 })).map((size) => ({ kind: 'huge', size }) as const) },
  { weight: 1, arbitrary: jwkMemberValue.map((value) => ({ kind: 'duplicateKeys', value }) as const) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', 'public_jwk ', 'PUBLIC_JWK', 'reason'), fc.jsonValue({ maxDepth: 2 })).map((extra) => ({ kind: 'topLevel', extra }) as const) },
);

/** Renders a body plan against the valid body `{ [field]: valid }`. */
export function renderBody(field: string, valid: Readonly<Record<string, unknown>>, plan: BodyPlan): string {
  const wrap = (value: unknown): string => `{${JSON.stringify(field)}:${JSON.stringify(value) ?? 'null'}}`;
  switch (plan.kind) {
    case 'valid':
      return wrap(valid);
    case 'jwk':
      return wrap(plan.mutations.reduce<unknown>((jwk, m) => (isRecord(jwk) ? applyJwkMutation(jwk, m) : jwk), valid));
    case 'text':
      return plan.text;
    case 'nested':
      return nestedJson(field, valid, plan.depth, plan.shape);
    case 'truncated': {
      const full = wrap(valid);
      return full.slice(0, Math.floor(plan.at * full.length));
    }
    case 'huge':
      return wrap({ ...valid, x: 'A'.repeat(plan.size) });
    case 'duplicateKeys':
      return `{${JSON.stringify(field)}:${JSON.stringify(valid)},${JSON.stringify(field)}:${JSON.stringify(plan.value) ?? 'null'}}`;
    case 'topLevel':
      return `{${JSON.stringify(plan.extra[0])}:${JSON.stringify(plan.extra[1])},${wrap(valid).slice(1)}`;
  }
}

function nestedJson(field: string, valid: Readonly<Record<string, unknown>>, depth: number, shape: 'array' | 'object' | 'jwk-member'): string {
  switch (shape) {
    case 'array':
      return `{${JSON.stringify(field)}:${'['.repeat(depth)}${']'.repeat(depth)}}`;
    case 'object':
      return `{${JSON.stringify(field)}:${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
    case 'jwk-member': {
      const inner = JSON.stringify(valid).slice(1, -1);
      return `{${JSON.stringify(field)}:{${inner},"kty":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------
// Content-Digest

/** Content-Digest values: right and wrong digests, unknown and prototype-named algorithms. */
export const contentDigestText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom('sha-256', 'sha-512', 'constructor', 'tostring', 'md5', 'sha-256'), sfByteSequenceText, sfParamsText).map(([k, v, p]) => `${k}=${v}${p}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('sha-256', 'sha-512', 'constructor'), sfBareItemText).map(([k, v]) => `${k}=${v}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('sha-256', 'constructor'), sfInnerListText).map(([k, v]) => `${k}=${v}`) },
  { weight: 2, arbitrary: sfDictionaryText },
  { weight: 1, arbitrary: hostileText },
);

/** A Content-Digest that matches `body`, then possibly mutated. */
export function digestOf(body: Buffer, algorithm: 'sha-256' | 'sha-512'): string {
  return `${algorithm}=:${createHash(algorithm === 'sha-256' ? 'sha256' : 'sha512').update(body).digest('base64')}:`;
}

// ---------------------------------------------------------------------------
// Admin query strings and path segments

// ISO 8601 forms that class-validator's IsISO8601 accepts but Date reads
// as Invalid Date or as another year, then near misses and plain ones.
const ISO_MISREAD = ['2020-W01', '2020-W01-1', '20200101', '20200101T000000Z', '-9999-01-01', '2020-001'];
const ISO_LIKE = [
  '2026-01-01', '2026-01-01T00:00:00Z', '+9999-12-31', '2020-02-30', '2020-01-01T24:00:00Z', '2020-01-01T00:00:00+23:59',
  '0001-01-01', '9999-12-31T23:59:59.999999999Z', '2020', '2020-01', '2020-01-01T00:00:60Z', '1970-01-01T00:00:00.000-00:00',
  '2020-01-01 00:00:00', '',
];

const dateValue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ISO_MISREAD) },
  { weight: 3, arbitrary: fc.constantFrom(...ISO_LIKE) },
  { weight: 1, arbitrary: fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toISOString())) },
  { weight: 1, arbitrary: hostileText },
);
const limitValue = fc.oneof(
  fc.constantFrom('0', '-1', '1', '500', '501', '1e3', 'NaN', 'Infinity', '1.5', '0x10', ' 5', '99999999999999999999'),
  fc.integer().map(String),
);
const cursorValue = fc.oneof(
  agentUidArb,
  fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
  fc.bigInt({ min: -1n, max: 10n ** 25n }).map((id) => Buffer.from(`e:${id}`).toString('base64url')),
  hostileText,
);
const filterValue = fc.oneof(
  fc.constantFrom('active', 'disabled', 'register', 'verify', 'rotate', 'success', 'failure', 'csv', 'json', 'INVALID_SIGNATURE', 'CONSTRUCTOR', '__proto__'),
  agentUidArb,
  hostileText,
);

/** One filter: each key with the values its validator is most likely to get wrong. */
const adminQueryPair: fc.Arbitrary<readonly [string, string]> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom('from', 'to'), dateValue) },
  { weight: 2, arbitrary: fc.tuple(fc.constant('limit'), limitValue) },
  { weight: 2, arbitrary: fc.tuple(fc.constant('cursor'), cursorValue) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom('agent_uid', 'event', 'outcome', 'error_code', 'format', 'status'), filterValue) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('__proto__', 'constructor', 'limit[]', 'from[a]', 'x'), fc.oneof(filterValue, dateValue)) },
);

/**
 * A query string of hostile filters, each value percent-encoded (or, now
 * and then, not). Often a single filter: one bad value among valid ones is
 * what reaches the service, since any other bad value is refused first.
 */
export const adminQueryString: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 3, arbitrary: fc.tuple(adminQueryPair, fc.boolean()).map((pair) => [pair]) },
    { weight: 2, arbitrary: fc.array(fc.tuple(adminQueryPair, fc.boolean()), { maxLength: 4 }) },
  )
  .map((pairs) => pairs.map(([[k, v], raw]) => `${k}=${raw ? rawQueryValue(v) : encodeURIComponent(stripLoneSurrogates(v))}`).join('&'));

/** Free text for the admin's revocation reason: control characters, NUL, lone surrogates, lengths at the bound. */
export const reasonValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('compromised', 'A'.repeat(200), 'A'.repeat(201), '\u0000', 'a\u0000b', '\ud800', 'x\udfff', '\u0001', '\u2028', '') },
  { weight: 3, arbitrary: hostileText },
  { weight: 1, arbitrary: jwkMemberValue },
);

/** Path segments for :uid and :kid: valid ones, near misses, percent-encoding junk. */
export function pathSegmentArb(valid: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: valid.length > 0 ? fc.constantFrom(...valid) : agentUidArb },
    { weight: 2, arbitrary: fc.oneof(agentUidArb, fc.stringMatching(/^[A-Za-z0-9_-]{43}$/)) },
    { weight: 2, arbitrary: hostileText.map((s) => encodeURIComponent(stripLoneSurrogates(s))) },
    { weight: 1, arbitrary: fc.constantFrom('%ZZ', '%', '%00', '%2F', '%2e%2e', '..', '%E9', '%C3%28', '%u0041', 'a%', '%%', '%F0%9F') },
  );
}

export function stripLoneSurrogates(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
}

// Characters a request target may carry unencoded; the rest is encoded so
// the client library accepts the path at all.
function rawQueryValue(value: string): string {
  return stripLoneSurrogates(value).replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c)).replace(/#/g, '%23');
}
