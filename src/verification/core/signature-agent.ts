import { isInnerList, parseDictionary, parseItem, Token } from 'structured-headers';
import type { BareItem, Dictionary, Item, Parameters } from 'structured-headers';
import { fail } from '../../common/errors/domain-error';
import type { ParsedSignature } from './signature-headers';

/** Where the agent's keys are published, from the `Signature-Agent` header. */
export interface SignatureAgentRef {
  /** The agent's origin (path '/'). */
  readonly url: URL;
  readonly origin: string;
  readonly scheme: 'http' | 'https';
  /** Lowercase hostname, without port. */
  readonly host: string;
  /** Only when not the scheme's default. */
  readonly port?: number;
  /** host[:port], lowercase, default port omitted. */
  readonly authority: string;
  readonly type: 'directory';
  /** The dictionary member used; undefined for a legacy bare value. */
  readonly memberKey?: string;
  /**
   * Only for a value without scheme (older clients, DESIGN.md section 2):
   * its host[:port] as given, lowercase, the port kept whatever it is. Such a
   * value names a host, not an origin: `url`, `scheme` and `authority` then
   * read it as https, so that a remote fetch is never plain http by
   * omission, while the local resolver compares this authority with its own
   * whatever its scheme (nothing is fetched for a local agent).
   */
  readonly schemelessAuthority?: string;
}

export const MAX_SIGNATURE_AGENT_HEADER_LENGTH = 2048;

/**
 * A value without scheme read with `scheme` instead of https: for a host the
 * caller knows (the home authority's agent hosts), never for a foreign one.
 */
export function withScheme(agent: SignatureAgentRef, scheme: 'http' | 'https'): SignatureAgentRef {
  if (agent.schemelessAuthority === undefined || agent.scheme === scheme) return agent;
  const url = new URL(`${scheme}://${agent.schemelessAuthority}/`);
  return {
    ...agent,
    url,
    origin: url.origin,
    scheme,
    host: url.hostname,
    port: url.port === '' ? undefined : Number(url.port),
    authority: url.host,
  };
}
export const MAX_SIGNATURE_AGENT_URL_LENGTH = 512;

const SIGNATURE_AGENT_FIELD = 'signature-agent';

// An origin and nothing else: optional http(s) scheme, a DNS name or a
// bracketed IPv6 literal, optional port, optional "/". No userinfo, path,
// query, fragment, percent-encoding or backslash ever reach the URL parser,
// so its lenient repairs cannot widen what we accept.
const AGENT_ORIGIN =
  /^(?:(https?):\/\/)?((?:[a-z0-9-]+\.)*[a-z0-9-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?\/?$/i;

interface AgentEntry {
  readonly item: Item;
  readonly memberKey?: string;
}

/**
 * Reads `Signature-Agent` (web-bot-auth architecture draft): an RFC 8941
 * dictionary whose members are directory URLs, or, from older clients, a
 * single bare string or token. The member is chosen as the draft's v2
 * vectors require: the one the signature covers by `key`, else the one
 * named like the signature's label, else the only one.
 */
export function parseSignatureAgent(
  header: string | undefined,
  signature: Pick<ParsedSignature, 'label' | 'components'>,
): SignatureAgentRef {
  if (header === undefined || header.trim() === '') {
    fail('MISSING_SIGNATURE_AGENT', 'missing signature agent');
  }
  if (header.length > MAX_SIGNATURE_AGENT_HEADER_LENGTH) {
    invalid('header_too_long');
  }
  const entry = selectEntry(header, signature);
  requireDirectoryType(entry.item[1]);
  return { ...parseAgentOrigin(entry.item[0]), type: 'directory', memberKey: entry.memberKey };
}

/**
 * Whether the signature covers the Signature-Agent value that was used:
 * the whole field, or the chosen member by `key` (RFC 9421 section 2.1.2).
 */
export function coversSignatureAgent(
  signature: Pick<ParsedSignature, 'components'>,
  agent: SignatureAgentRef,
): boolean {
  return signature.components.some((component) => {
    if (component.name !== SIGNATURE_AGENT_FIELD) {
      return false;
    }
    const key = component.params.get('key');
    return key === undefined || (agent.memberKey !== undefined && key === agent.memberKey);
  });
}

// A bare item is tried first: apart from a lone boolean member (meaningless
// here), no dictionary also parses as a single item, so the order only
// decides which reading legacy values get.
function selectEntry(
  header: string,
  signature: Pick<ParsedSignature, 'label' | 'components'>,
): AgentEntry {
  // Cheapest reading first: real clients send a dictionary (sig1="…"), and
  // a parse that throws costs a stack trace on every request.
  const trimmed = header.trimStart();
  const dictionary = trimmed.startsWith('"') ? undefined : tryParse(() => parseDictionary(header));
  if (dictionary === undefined || onlyBareKeys(dictionary)) {
    // A legacy bare value: a string, or a token such as `agent-x.example.com`
    // (which also reads as a dictionary of one bare key).
    const bare = tryParse(() => parseItem(header));
    if (bare !== undefined) {
      return { item: bare };
    }
    invalid('unparsable');
  }
  const memberKey = chooseMemberKey(dictionary, signature);
  const member = dictionary.get(memberKey);
  if (member === undefined || isInnerList(member)) {
    invalid('member_missing_or_not_item');
  }
  return { item: member, memberKey };
}

function onlyBareKeys(dictionary: Dictionary): boolean {
  for (const member of dictionary.values()) {
    if (isInnerList(member) || member[0] !== true || member[1].size > 0) return false;
  }
  return true;
}

function chooseMemberKey(
  dictionary: Dictionary,
  signature: Pick<ParsedSignature, 'label' | 'components'>,
): string {
  const coveredKeys = new Set<string>();
  for (const component of signature.components) {
    const key = component.params.get('key');
    if (component.name === SIGNATURE_AGENT_FIELD && typeof key === 'string') {
      coveredKeys.add(key);
    }
  }
  if (coveredKeys.size > 1) {
    invalid('ambiguous_member');
  }
  if (coveredKeys.size === 1) {
    return [...coveredKeys][0];
  }
  if (dictionary.has(signature.label)) {
    return signature.label;
  }
  if (dictionary.size === 1) {
    return [...dictionary.keys()][0];
  }
  invalid('ambiguous_member');
}

// The draft's `type` parameter names the discovery mechanism; we implement
// only the key directory (its default). Token or string, as senders vary.
function requireDirectoryType(params: Parameters): void {
  const type = params.get('type');
  if (type !== undefined && textOf(type) !== 'directory') {
    invalid('unsupported_type');
  }
}

function parseAgentOrigin(value: BareItem): Omit<SignatureAgentRef, 'type' | 'memberKey'> {
  const text = textOf(value);
  if (text === undefined || text.length > MAX_SIGNATURE_AGENT_URL_LENGTH) {
    invalid('invalid_url');
  }
  const match = AGENT_ORIGIN.exec(text);
  if (match === null) {
    invalid('invalid_url');
  }
  const [, scheme, hostname, port] = match;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
    invalid('invalid_url');
  }
  // Older clients send host[:port] without a scheme. We read it as https,
  // the safe default: a remote fetch must not be downgraded to plain http by
  // omission; the local resolver compares schemelessAuthority only.
  const url = tryParse(
    () => new URL(`${(scheme ?? 'https').toLowerCase()}://${hostname}${port ? `:${port}` : ''}/`),
  );
  if (url === undefined) {
    invalid('invalid_url');
  }
  const origin = {
    url,
    origin: url.origin,
    scheme: url.protocol === 'https:' ? ('https' as const) : ('http' as const),
    host: url.hostname,
    port: url.port === '' ? undefined : Number(url.port),
    authority: url.host,
  };
  if (scheme !== undefined) {
    return origin;
  }
  return { ...origin, schemelessAuthority: port ? `${url.hostname}:${Number(port)}` : url.hostname };
}

function textOf(value: BareItem): string | undefined {
  if (typeof value === 'string') {
    return value;
  }
  return value instanceof Token ? value.toString() : undefined;
}

function tryParse<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch {
    return undefined;
  }
}

function invalid(reason: string): never {
  fail('INVALID_SIGNATURE_AGENT', 'invalid signature agent', { reason });
}
