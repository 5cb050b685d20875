import {
  isInnerList,
  parseDictionary,
  serializeDictionary,
  serializeInnerList,
  serializeItem,
} from 'structured-headers';
import type { Dictionary } from 'structured-headers';
import { fail } from '../../common/errors/domain-error';
import type { ComponentId, ParsedSignature } from './signature-headers';
import { hasIntegralDecimal } from './structured-decimals';

/**
 * What the signature base needs from a request, already normalized by the
 * caller (which knows about proxies and Node's request object).
 */
export interface RequestView {
  readonly method: string;
  readonly scheme: 'http' | 'https';
  /** host[:port] as addressed, lowercased, default port removed. */
  readonly authority: string;
  /** Raw path as received; '' is given as '/'. */
  readonly path: string;
  /** Raw query including its leading '?', or '' when there is none. */
  readonly query: string;
  /** Raw field values in the order received, by lowercase name; undefined when absent. */
  header(name: string): readonly string[] | undefined;
}

type DerivedComponent = (request: RequestView) => string;

// RFC 9421 section 2.2. @query-param and @status are left out on purpose:
// the first needs its own decoding rules, the second exists only on
// responses; both fail closed as unsupported.
const DERIVED_COMPONENTS: ReadonlyMap<string, DerivedComponent> = new Map([
  ['@method', (r: RequestView) => r.method],
  ['@target-uri', (r: RequestView) => `${r.scheme}://${r.authority}${r.path}${r.query}`],
  ['@authority', (r: RequestView) => r.authority],
  ['@scheme', (r: RequestView) => r.scheme],
  ['@request-target', (r: RequestView) => `${r.path}${r.query}`],
  ['@path', (r: RequestView) => r.path],
  // Section 2.2.7: an absent query is represented by "?" alone.
  ['@query', (r: RequestView) => r.query || '?'],
]);

// Section 2.1.1 needs the field's structured type to re-serialize it; we
// only know it for the dictionary fields this service deals with.
const DICTIONARY_FIELDS: ReadonlySet<string> = new Set(['signature-agent', 'content-digest']);

// Visible ASCII, space and horizontal tab.
const BASE_SAFE_VALUE = /^[\t\x20-\x7e]*$/;

const SUPPORTED_FIELD_PARAMS: ReadonlySet<string> = new Set(['key', 'sf']);

/**
 * Builds the RFC 9421 section 2.5 signature base: one line per covered
 * component, then the @signature-params line, joined by LF without a
 * trailing newline. Anything we cannot compute exactly fails closed.
 */
export function buildSignatureBase(parsed: ParsedSignature, request: RequestView): string {
  const lines = parsed.components.map(
    (component) => `${component.serialized}: ${componentValue(component, request)}`,
  );
  lines.push(`"@signature-params": ${parsed.signatureParams}`);
  return lines.join('\n');
}

/** Whether the signature covers the component, with or without parameters. */
export function coversComponent(parsed: ParsedSignature, name: string): boolean {
  return parsed.components.some((component) => component.name === name);
}

/** DESIGN.md section 4, step 3: the signature must bind the host it was made for. */
export function coversAuthority(parsed: ParsedSignature): boolean {
  return coversComponent(parsed, '@authority') || coversComponent(parsed, '@target-uri');
}

function componentValue(component: ComponentId, request: RequestView): string {
  const value = component.name.startsWith('@')
    ? derivedValue(component, request)
    : fieldValue(component, request);
  // A line break inside a value would forge extra lines of the base. Other
  // control and non-ASCII characters are refused too: Node hands us header
  // bytes as latin1 while signers encode their base as UTF-8, so such a
  // value has no single correct byte form and we fail closed.
  if (!BASE_SAFE_VALUE.test(value)) {
    fail('INVALID_SIGNATURE', 'invalid signature', {
      reason: 'component_value_not_ascii',
      component: component.serialized,
    });
  }
  return value;
}

function derivedValue(component: ComponentId, request: RequestView): string {
  const derive = DERIVED_COMPONENTS.get(component.name);
  // Parameters on derived components (req, name, ...) are all outside what
  // a request verifier supports.
  if (derive === undefined || component.params.size > 0) {
    unsupported(component);
  }
  return derive(request);
}

function fieldValue(component: ComponentId, request: RequestView): string {
  for (const name of component.params.keys()) {
    if (!SUPPORTED_FIELD_PARAMS.has(name)) {
      unsupported(component);
    }
  }
  const raw = combinedFieldValue(component, request);
  const key = component.params.get('key');
  const strict = component.params.get('sf');
  if (key !== undefined) {
    return dictionaryMember(component, raw, requireKey(component, key), strict);
  }
  if (strict !== undefined) {
    return strictDictionary(component, raw, strict);
  }
  return raw;
}

// Section 2.1: values trimmed, obsolete line folding replaced by a space,
// then joined with ", " in the order they occur.
// The name is the signer's choice: a view over a plain object (Node's
// headers) that handed out an Object.prototype member for `constructor` or
// `__proto__` must still answer "absent", never reach String methods.
function combinedFieldValue(component: ComponentId, request: RequestView): string {
  const values: unknown = request.header(component.name);
  if (!Array.isArray(values) || values.length === 0 || !values.every(isString)) {
    fail('INVALID_SIGNATURE', 'invalid signature', {
      reason: 'covered_field_absent',
      component: component.serialized,
    });
  }
  return (values as string[])
    .map((value) => trimSpacesAndTabs(value.replace(/\r\n[ \t]+/g, ' ')))
    .join(', ');
}

/**
 * RFC 9421 section 2.1: leading and trailing SP and HTAB removed, in linear
 * time. (A regex `[ \t]+$` backtracks quadratically over a long run of
 * spaces inside the value: 4.5 s of CPU for one request covering a padded
 * header 30 times.)
 */
function trimSpacesAndTabs(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value[start] === ' ' || value[start] === '\t')) start++;
  while (end > start && (value[end - 1] === ' ' || value[end - 1] === '\t')) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function requireKey(component: ComponentId, key: string | number | boolean): string {
  if (typeof key !== 'string') {
    fail('INVALID_SIGNATURE_INPUT', 'invalid signature input', {
      reason: 'invalid_component_parameter',
      component: component.serialized,
    });
  }
  return key;
}

// Section 2.1.2: the value is the strict serialization of the named member.
// `sf` alongside `key` changes nothing, as the member is already strict.
function dictionaryMember(
  component: ComponentId,
  raw: string,
  key: string,
  strict: string | number | boolean | undefined,
): string {
  if (strict !== undefined && strict !== true) {
    invalidStrictFlag(component);
  }
  const dictionary = parseFieldDictionary(component, raw);
  refuseIntegralDecimals(component, raw);
  const member = dictionary.get(key);
  if (member === undefined) {
    fail('INVALID_SIGNATURE', 'invalid signature', {
      reason: 'covered_member_absent',
      component: component.serialized,
    });
  }
  return isInnerList(member) ? serializeInnerList(member) : serializeItem(member);
}

// Section 2.1.1: strict serialization needs the field's type.
function strictDictionary(
  component: ComponentId,
  raw: string,
  strict: string | number | boolean,
): string {
  if (strict !== true) {
    invalidStrictFlag(component);
  }
  if (!DICTIONARY_FIELDS.has(component.name)) {
    unsupported(component);
  }
  const dictionary = parseFieldDictionary(component, raw);
  refuseIntegralDecimals(component, raw);
  return serializeDictionary(dictionary);
}

// The library serializes the Decimal 1.0 as the Integer 1: such a field's
// strict serialization cannot be rebuilt, so it is refused, never signed over
// as another type.
function refuseIntegralDecimals(component: ComponentId, raw: string): void {
  if (hasIntegralDecimal(raw)) {
    fail('UNSUPPORTED_COMPONENT', 'unsupported signature component', {
      reason: 'integral_decimal',
      component: component.serialized,
    });
  }
}

function parseFieldDictionary(component: ComponentId, raw: string): Dictionary {
  try {
    return parseDictionary(raw);
  } catch {
    fail('INVALID_SIGNATURE', 'invalid signature', {
      reason: 'covered_field_not_dictionary',
      component: component.serialized,
    });
  }
}

function invalidStrictFlag(component: ComponentId): never {
  fail('INVALID_SIGNATURE_INPUT', 'invalid signature input', {
    reason: 'invalid_component_parameter',
    component: component.serialized,
  });
}

function unsupported(component: ComponentId): never {
  fail('UNSUPPORTED_COMPONENT', 'unsupported signature component', {
    component: component.serialized,
  });
}
