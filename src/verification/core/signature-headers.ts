import { types } from 'node:util';
import {
  isInnerList,
  parseDictionary,
  serializeInnerList,
  serializeItem,
  serializeParameters,
  Token,
} from 'structured-headers';
import type {
  BareItem,
  Dictionary,
  InnerList,
  Item,
  Parameters,
} from 'structured-headers';
import { fail } from '../../common/errors/domain-error';
import { decimalParameters, serializeDecimalExactly } from './structured-decimals';

/**
 * Bounds checked before any parsing, so a hostile header costs at most one
 * length comparison. Real signers send one label with a handful of
 * components in a few hundred bytes; Node already caps all headers at 16 KiB.
 */
export const MAX_SIGNATURE_HEADER_LENGTH = 8 * 1024;
export const MAX_SIGNATURE_LABELS = 16;
export const MAX_COVERED_COMPONENTS = 32;

export type ComponentParamValue = string | number | boolean;

/** One covered component identifier (RFC 9421 section 2). */
export interface ComponentId {
  readonly name: string;
  /** e.g. key="sig1", sf, bs, req, tr; in the order received. */
  readonly params: ReadonlyMap<string, ComponentParamValue>;
  /** The identifier as it appears in the signature base, e.g. `"signature-agent";key="sig1"`. */
  readonly serialized: string;
}

/** The RFC 9421 section 2.3 parameters this service reads. */
export interface SignatureParams {
  readonly created?: number;
  readonly expires?: number;
  readonly keyid?: string;
  readonly alg?: string;
  readonly nonce?: string;
  readonly tag?: string;
}

export interface ParsedSignature {
  readonly label: string;
  readonly components: readonly ComponentId[];
  readonly params: SignatureParams;
  /** The value of the `@signature-params` line (RFC 9421 section 2.3). */
  readonly signatureParams: string;
  readonly signature: Buffer;
}

export interface ParseSignatureOptions {
  /**
   * The tag the label must carry; undefined accepts a single label whatever
   * its tag (registration).
   */
  readonly requiredTag?: string;
}

// RFC 9421 section 2.1: field names are lowercased tokens; derived
// component names start with "@" (section 2.2).
const FIELD_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const DERIVED_NAME = /^@[a-z][a-z-]*$/;

/**
 * Parses `Signature-Input` and `Signature` (RFC 9421 section 4) and selects
 * the one signature this service verifies (DESIGN.md section 4, step 1).
 */
export function parseSignatureHeaders(
  signatureInput: string | undefined,
  signature: string | undefined,
  opts: ParseSignatureOptions,
): ParsedSignature {
  const inputHeader = requirePresent(signatureInput, 'MISSING_SIGNATURE_INPUT');
  const signatureHeader = requirePresent(signature, 'MISSING_SIGNATURE');
  const inputs = parseBoundedDictionary(inputHeader, 'INVALID_SIGNATURE_INPUT');
  const signatures = parseBoundedDictionary(signatureHeader, 'INVALID_SIGNATURE');
  const [label, member] = selectMember(requireInnerLists(inputs), opts.requiredTag);
  // Which of its parameters are Decimals, which the library's values cannot tell.
  const decimals = decimalParameters(inputHeader, label);
  return {
    label,
    components: parseComponents(member[0]),
    params: parseParams(member[1], decimals),
    signatureParams: serializeSignatureParams(member, decimals),
    signature: signatureBytes(signatures, label),
  };
}

function requirePresent(
  value: string | undefined,
  code: 'MISSING_SIGNATURE_INPUT' | 'MISSING_SIGNATURE',
): string {
  if (value === undefined || value.trim() === '') {
    fail(code, code === 'MISSING_SIGNATURE' ? 'missing signature' : 'missing signature input');
  }
  return value;
}

function parseBoundedDictionary(
  value: string,
  code: 'INVALID_SIGNATURE_INPUT' | 'INVALID_SIGNATURE',
): Dictionary {
  const message = code === 'INVALID_SIGNATURE' ? 'invalid signature' : 'invalid signature input';
  if (value.length > MAX_SIGNATURE_HEADER_LENGTH) {
    fail(code, message, { reason: 'header_too_long', length: value.length });
  }
  let dictionary: Dictionary;
  try {
    dictionary = parseDictionary(value);
  } catch {
    fail(code, message, { reason: 'unparsable' });
  }
  if (dictionary.size > MAX_SIGNATURE_LABELS) {
    fail(code, message, { reason: 'too_many_labels', labels: dictionary.size });
  }
  return dictionary;
}

// RFC 9421 section 4.1: every Signature-Input member is an Inner List. We
// check all of them, not only the selected one, because selection reads the
// tag of each.
function requireInnerLists(inputs: Dictionary): Map<string, InnerList> {
  const lists = new Map<string, InnerList>();
  for (const [label, member] of inputs) {
    if (!isInnerList(member)) {
      fail('INVALID_SIGNATURE_INPUT', 'invalid signature input', {
        reason: 'member_not_inner_list',
        label,
      });
    }
    lists.set(label, member);
  }
  return lists;
}

function selectMember(
  inputs: ReadonlyMap<string, InnerList>,
  requiredTag: string | undefined,
): [string, InnerList] {
  if (requiredTag === undefined) {
    if (inputs.size !== 1) {
      fail('INVALID_SIGNATURE_INPUT', 'invalid signature input', {
        reason: 'expected_single_label',
        labels: inputs.size,
      });
    }
    return [...inputs][0];
  }
  const tagged = [...inputs].filter(([, list]) => list[1].get('tag') === requiredTag);
  if (tagged.length === 0) {
    fail('WRONG_TAG', 'no signature with the required tag', { labels: inputs.size });
  }
  // Two signatures claiming the same tag leave us guessing which one the
  // agent meant; refusing is the only choice that cannot be steered.
  if (tagged.length > 1) {
    fail('INVALID_SIGNATURE_INPUT', 'invalid signature input', {
      reason: 'ambiguous_tag',
      labels: tagged.length,
    });
  }
  return tagged[0];
}

function parseComponents(items: readonly Item[]): ComponentId[] {
  if (items.length > MAX_COVERED_COMPONENTS) {
    fail('INVALID_SIGNATURE_INPUT', 'invalid signature input', {
      reason: 'too_many_components',
      components: items.length,
    });
  }
  const seen = new Set<string>();
  return items.map((item) => {
    const component = parseComponent(item);
    const identity = componentIdentity(component);
    // RFC 9421 section 2.5: a component identifier occurs at most once.
    if (seen.has(identity)) {
      fail('INVALID_SIGNATURE_INPUT', 'invalid signature input', {
        reason: 'duplicate_component',
        component: component.serialized,
      });
    }
    seen.add(identity);
    return component;
  });
}

function parseComponent([name, rawParams]: Item): ComponentId {
  if (typeof name !== 'string' || !isComponentName(name)) {
    fail('INVALID_SIGNATURE_INPUT', 'invalid signature input', {
      reason: 'invalid_component_name',
    });
  }
  const params = new Map<string, ComponentParamValue>();
  for (const [key, value] of rawParams) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      fail('INVALID_SIGNATURE_INPUT', 'invalid signature input', {
        reason: 'invalid_component_parameter',
        component: name,
        parameter: key,
      });
    }
    params.set(key, value);
  }
  return { name, params, serialized: serializeItem(name, rawParams) };
}

// RFC 9421 section 2.3: @signature-params is the signature's own line and
// can never be a covered component.
function isComponentName(name: string): boolean {
  if (name === '@signature-params') {
    return false;
  }
  return FIELD_NAME.test(name) || DERIVED_NAME.test(name);
}

// Identifiers with the same parameters in another order are the same
// component, so duplicates are compared on sorted parameters.
function componentIdentity(component: ComponentId): string {
  const params = [...component.params]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  return [component.name, ...params].join(';');
}

// Unknown parameters stay in the signed @signature-params line but are
// otherwise ignored (RFC 9421 section 2.3 allows extensions).
function parseParams(params: Parameters, decimals: ReadonlySet<string>): SignatureParams {
  for (const value of params.values()) {
    requireRfc8941BareItem(value);
  }
  return {
    created: optionalTimestamp(params, 'created', decimals),
    expires: optionalTimestamp(params, 'expires', decimals),
    keyid: optionalString(params, 'keyid'),
    alg: optionalString(params, 'alg'),
    nonce: optionalString(params, 'nonce'),
    tag: optionalString(params, 'tag'),
  };
}

// structured-headers also parses RFC 9651 Dates and Display Strings, which
// RFC 9421 (built on RFC 8941) never produces.
function requireRfc8941BareItem(value: BareItem): void {
  if (!isRfc8941Type(value)) {
    fail('INVALID_SIGNATURE_INPUT', 'invalid signature input', {
      reason: 'unsupported_parameter_type',
    });
  }
}

function isRfc8941Type(value: BareItem): boolean {
  return (
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'boolean' ||
    value instanceof Token ||
    types.isArrayBuffer(value)
  );
}

// RFC 9421 section 2.3: created and expires are Integer UNIX timestamps (a
// Decimal such as `1795779140.0` is another type, even with a zero fraction).
function optionalTimestamp(
  params: Parameters,
  key: string,
  decimals: ReadonlySet<string>,
): number | undefined {
  const value = params.get(key);
  if (value === undefined) {
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || decimals.has(key)) {
    fail('INVALID_SIGNATURE_INPUT', 'invalid signature input', {
      reason: 'invalid_parameter',
      parameter: key,
    });
  }
  return value;
}

// RFC 9421 section 2.3: keyid, alg, nonce and tag are Strings (a Token is a
// different type and is refused).
function optionalString(params: Parameters, key: string): string | undefined {
  const value = params.get(key);
  if (value === undefined) {
    return undefined;
  }
  if (typeof value !== 'string') {
    fail('INVALID_SIGNATURE_INPUT', 'invalid signature input', {
      reason: 'invalid_parameter',
      parameter: key,
    });
  }
  return value;
}

/**
 * RFC 9421 section 2.3 defines the @signature-params value as the RFC 8941
 * section 4 serialization of the inner list with its parameters, so we
 * re-serialize what we parsed rather than slicing the raw header. Signers
 * serialize the same way (vestauth and web-bot-auth output is already
 * canonical, as signature-vectors.spec.ts checks), and the bytes we sign
 * over are then exactly the structure we validated: optional whitespace or
 * a duplicated parameter in the raw header cannot make the checked values
 * differ from the signed ones.
 *
 * A Decimal parameter stays a Decimal (`x=1.0`, not the library's `x=1`),
 * so two headers of different types never share one base. Decimals among
 * the components' own parameters need no such care: no numeric component
 * parameter is supported, so the base is never built for one.
 */
function serializeSignatureParams(member: InnerList, decimals: ReadonlySet<string>): string {
  if (decimals.size === 0) {
    return serializeInnerList(member);
  }
  let line = serializeInnerList([member[0], new Map()]);
  for (const [key, value] of member[1]) {
    line +=
      decimals.has(key) && typeof value === 'number'
        ? `;${key}=${serializeDecimalExactly(value)}`
        : serializeParameters(new Map([[key, value]]));
  }
  return line;
}

// RFC 9421 section 4.2: the Signature member is a Byte Sequence. Unknown
// parameters on it are ignored, as RFC 8941 expects of receivers.
function signatureBytes(signatures: Dictionary, label: string): Buffer {
  const member = signatures.get(label);
  if (member === undefined) {
    fail('INVALID_SIGNATURE', 'invalid signature', { reason: 'label_missing', label });
  }
  const value = member[0];
  if (Array.isArray(value) || !types.isArrayBuffer(value) || value.byteLength === 0) {
    fail('INVALID_SIGNATURE', 'invalid signature', { reason: 'not_byte_sequence', label });
  }
  return Buffer.from(value);
}
