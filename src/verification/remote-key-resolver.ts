import type { KeyObject } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import * as http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import * as https from 'node:https';
import { BlockList, isIP } from 'node:net';
import { Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { DomainError } from '../common/errors/domain-error';
import type { SignatureAgentRef } from './core/signature-agent';
import { hasPrivateMaterial, importPublicJwk, jwkThumbprint, toPublicJwk } from './core/jwk';
import type { JwkInput } from './core/jwk';
import { ed25519JwkXWeakness } from './core/ed25519-key-strength';
import { KeyResolver, ResolvedKey, WELL_KNOWN_DIRECTORY_PATH } from './key-resolver';

/** Resolves a host name to every address it has (dns.promises.lookup with all: true). */
export type AddressLookup = (hostname: string) => Promise<readonly LookupAddress[]>;

export interface RemoteKeyResolverOptions {
  /** Plain http only for localhost, *.localhost and loopback literals (development). */
  allowInsecureLocalhost: boolean;
  /** Connect to private, loopback, link-local and other special-purpose addresses. */
  allowPrivateNetworks: boolean;
  /** DNS, connect and the whole response, together. Default 2 s. */
  timeoutMs?: number;
  /** Response body cap. Default 64 KiB. */
  maxBytes?: number;
  /** Only the first maxKeys directory entries are considered. Default 16. */
  maxKeys?: number;
  /** Upper bound for a directory's freshness (Cache-Control max-age is clamped to it). At most 5 min. */
  cacheTtlMs?: number;
  /** How long a failed fetch is remembered. At most 5 min, default 30 s. */
  failureTtlMs?: number;
  /** Directories kept (LRU). Default 1000. */
  cacheMaxEntries?: number;
  /** An unknown keyid re-checks a cached directory at most this often (a rotated key). Default 5 s. */
  recheckAfterMs?: number;
  lookup?: AddressLookup;
  now?: () => number;
}

export interface RemoteKeyResolverStats {
  /** Resolves answered from a fresh cache entry (keys or a remembered failure). */
  hits: number;
  /** Resolves that needed the network (possibly sharing another resolve's fetch). */
  misses: number;
  /** HTTP requests sent. */
  fetches: number;
  /** Directory retrievals that failed (network, policy or content). */
  failures: number;
}

interface Settings {
  allowInsecureLocalhost: boolean;
  allowPrivateNetworks: boolean;
  timeoutMs: number;
  maxBytes: number;
  maxKeys: number;
  cacheTtlMs: number;
  failureTtlMs: number;
  cacheMaxEntries: number;
  recheckAfterMs: number;
}

interface DirectoryKey {
  kid: string;
  publicJwk: Record<string, unknown>;
  key: KeyObject;
}

interface KeysEntry {
  kind: 'keys';
  keys: ReadonlyMap<string, DirectoryKey>;
  etag?: string;
  /** The freshness lifetime last granted, reused when a 304 carries no Cache-Control. */
  ttlMs: number;
  expiresAt: number;
  /** When the keys were last confirmed by the directory (200 or 304). */
  checkedAt: number;
  store: boolean;
}

interface FailureEntry {
  kind: 'failure';
  failure: string;
  expiresAt: number;
}

type DirectoryEntry = KeysEntry | FailureEntry;

interface DirectoryTarget {
  url: string;
  scheme: 'http' | 'https';
  /** Without IPv6 brackets. */
  hostname: string;
  port: number;
  /** host[:port] for the Host header. */
  authority: string;
}

interface DirectoryResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body?: Buffer;
}

interface CachePolicy {
  store: boolean;
  /** Undefined when the response sets no freshness. */
  ttlMs?: number;
}

// The hard ceiling DESIGN.md section 4 step 5 puts on any cached answer
// about a foreign directory, whatever the configuration says.
const MAX_CACHE_MS = 5 * 60_000;

const DEFAULTS = {
  timeoutMs: 2000,
  maxBytes: 64 * 1024,
  maxKeys: 16,
  cacheTtlMs: MAX_CACHE_MS,
  failureTtlMs: 30_000,
  cacheMaxEntries: 1000,
  recheckAfterMs: 5_000,
} as const;

const DIRECTORY_MEDIA_TYPE = 'application/http-message-signatures-directory+json';
const ACCEPTED_MEDIA_TYPES = new Set([DIRECTORY_MEDIA_TYPE, 'application/json']);
const MAX_RESPONSE_HEADER_BYTES = 16 * 1024;
// RFC 9110 section 8.8.3 entity-tag; anything else is not echoed back.
const ENTITY_TAG = /^(?:W\/)?"[\x21\x23-\x7e]{0,254}"$/;

/**
 * Keys of agents from trusted foreign authorities, read from the agent's
 * published directory (web-bot-auth directory draft). The caller has
 * already matched the agent host against the trusted domains; this class
 * still owns every network rule, because a directory URL is chosen by
 * whoever sends the request.
 *
 * Every failure to obtain a directory (policy refusal, DNS, timeout,
 * status, size, content) is answered exactly like a key that is not in the
 * directory: UNKNOWN_KEY (401), message "unknown key". Authentication
 * failed either way; the same answer as for an unknown local agent keeps
 * local and remote agents indistinguishable, and a caller cannot use the
 * verifier as an oracle for what our network can reach. The reason goes to
 * `detail` (audit row) and the warn log, never to the message.
 * REMOTE_DIRECTORY_UNAVAILABLE (502) is deliberately not used: any sender
 * can name an unreachable agent under a trusted wildcard, and a
 * client-triggerable 5xx would page operators and invite retries.
 */
export class RemoteKeyResolver extends KeyResolver {
  private readonly logger = new Logger(RemoteKeyResolver.name);
  private readonly settings: Settings;
  private readonly lookup: AddressLookup;
  private readonly now: () => number;
  private readonly cache: LRUCache<string, DirectoryEntry>;
  private readonly inFlight = new Map<string, Promise<DirectoryEntry>>();
  private readonly counters: RemoteKeyResolverStats = { hits: 0, misses: 0, fetches: 0, failures: 0 };

  constructor(options: RemoteKeyResolverOptions) {
    super();
    this.settings = settingsFrom(options);
    this.lookup = options.lookup ?? ((hostname) => dnsLookup(hostname, { all: true, verbatim: true }));
    this.now = options.now ?? Date.now;
    this.cache = new LRUCache<string, DirectoryEntry>({ max: this.settings.cacheMaxEntries });
  }

  async resolve(agent: SignatureAgentRef, keyid: string): Promise<ResolvedKey> {
    const wellKnownUrl = directoryUrl(agent);
    let keys = await this.directory(agent, wellKnownUrl);
    if (!keys.has(keyid) && this.mayRecheck(wellKnownUrl)) {
      // A key the cached directory does not know may be a freshly rotated
      // one: ask again (revalidating with the ETag), but at most once per
      // recheckAfterMs per directory, so random keyids cannot force fetches.
      keys = keysOf(await this.sharedLoad(agent, wellKnownUrl, this.cache.get(wellKnownUrl)));
    }
    const found = keys.get(keyid);
    if (found === undefined) {
      throw unknownKey({ reason: 'key_not_in_directory' });
    }
    return {
      uid: agent.host.split('.')[0],
      kid: found.kid,
      publicJwk: { ...found.publicJwk },
      key: found.key,
      wellKnownUrl,
    };
  }

  private mayRecheck(url: string): boolean {
    const cached = this.cache.get(url);
    return cached?.kind === 'keys' && this.now() - cached.checkedAt >= this.settings.recheckAfterMs;
  }

  stats(): RemoteKeyResolverStats {
    return { ...this.counters };
  }

  private async directory(
    agent: SignatureAgentRef,
    url: string,
  ): Promise<ReadonlyMap<string, DirectoryKey>> {
    const cached = this.cache.get(url);
    if (cached !== undefined && cached.expiresAt > this.now()) {
      this.counters.hits++;
      return keysOf(cached);
    }
    this.counters.misses++;
    return keysOf(await this.sharedLoad(agent, url, cached));
  }

  // Concurrent resolves of one directory wait for the same fetch, so a burst
  // of signed requests costs the foreign authority one request.
  private sharedLoad(
    agent: SignatureAgentRef,
    url: string,
    stale: DirectoryEntry | undefined,
  ): Promise<DirectoryEntry> {
    let pending = this.inFlight.get(url);
    if (pending === undefined) {
      pending = this.load(agent, url, stale).finally(() => this.inFlight.delete(url));
      this.inFlight.set(url, pending);
    }
    return pending;
  }

  // Never rejects: a failure becomes a negative entry, cached so that a
  // broken or hostile directory is asked at most once per failureTtlMs.
  // A failed revalidation replaces stale keys: they are not served again.
  private async load(
    agent: SignatureAgentRef,
    url: string,
    stale: DirectoryEntry | undefined,
  ): Promise<DirectoryEntry> {
    let entry: DirectoryEntry;
    try {
      entry = await this.fetchDirectory(agent, stale?.kind === 'keys' ? stale : undefined);
    } catch (error) {
      const failure = error instanceof FetchFailure ? error.failure : 'network_error';
      this.counters.failures++;
      this.logger.warn(`directory ${agent.origin} unavailable: ${failure}`);
      entry = { kind: 'failure', failure, expiresAt: this.now() + this.settings.failureTtlMs };
    }
    if (entry.kind === 'keys' && !entry.store) {
      this.cache.delete(url);
    } else {
      this.cache.set(url, entry);
    }
    return entry;
  }

  private async fetchDirectory(
    agent: SignatureAgentRef,
    previous: KeysEntry | undefined,
  ): Promise<KeysEntry> {
    const target = this.targetOf(agent);
    const response = await this.withDeadline(async (signal) => {
      const address = await this.vettedAddress(target.hostname, signal);
      return this.send(target, address, previous?.etag, signal);
    });
    return this.interpret(response, previous);
  }

  private targetOf(agent: SignatureAgentRef): DirectoryTarget {
    const hostname = agent.host.replace(/^\[(.*)\]$/, '$1');
    const insecureAllowed = this.settings.allowInsecureLocalhost && isLocalhostName(hostname);
    if (agent.scheme !== 'https' && !insecureAllowed) {
      throw new FetchFailure('insecure_scheme');
    }
    return {
      url: directoryUrl(agent),
      scheme: agent.scheme,
      hostname,
      port: agent.port ?? (agent.scheme === 'https' ? 443 : 80),
      authority: agent.authority,
    };
  }

  // One timer covers DNS, connect, headers and body: a slow directory costs
  // a verification at most timeoutMs.
  private async withDeadline<T>(task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.settings.timeoutMs);
    try {
      return await task(controller.signal);
    } catch (error) {
      throw controller.signal.aborted ? new FetchFailure('timeout') : error;
    } finally {
      clearTimeout(timer);
    }
  }

  // Every address the name has is checked (a name with one private address
  // among public ones is refused), then the connection goes to a checked
  // address literal, so a second DNS answer (rebinding) is never consulted.
  private async vettedAddress(hostname: string, signal: AbortSignal): Promise<string> {
    const addresses = await this.addressesOf(hostname, signal);
    if (addresses.length === 0 || addresses.some((address) => isIP(withoutZone(address)) === 0)) {
      throw new FetchFailure('dns_failed');
    }
    if (!this.settings.allowPrivateNetworks && addresses.some(isSpecialPurposeAddress)) {
      throw new FetchFailure('forbidden_address');
    }
    return addresses[0];
  }

  private async addressesOf(hostname: string, signal: AbortSignal): Promise<readonly string[]> {
    if (isIP(hostname) !== 0) {
      return [hostname];
    }
    // RFC 6761 section 6.3: localhost names are loopback, whatever a
    // resolver says.
    if (isLocalhostName(hostname)) {
      return ['127.0.0.1'];
    }
    try {
      const answers = await abortable(this.lookup(hostname), signal);
      return answers.map((answer) => answer.address);
    } catch (error) {
      throw signal.aborted ? error : new FetchFailure('dns_failed');
    }
  }

  private async send(
    target: DirectoryTarget,
    address: string,
    etag: string | undefined,
    signal: AbortSignal,
  ): Promise<DirectoryResponse> {
    this.counters.fetches++;
    const response = await openResponse(target, address, requestHeaders(target, etag), signal);
    try {
      const status = response.statusCode ?? 0;
      const body = status === 200 ? await readCapped(response, this.settings.maxBytes) : undefined;
      return { status, headers: response.headers, body };
    } finally {
      response.destroy();
    }
  }

  private interpret(response: DirectoryResponse, previous: KeysEntry | undefined): KeysEntry {
    const { status, headers, body } = response;
    if (status === 304 && previous !== undefined) {
      return this.refreshed(previous, headers);
    }
    // The draft accepts only 200 and no redirect: a Location is chosen by
    // the server and could point anywhere, including inside our network.
    if (status >= 300 && status < 400) {
      throw new FetchFailure('redirect');
    }
    if (status !== 200 || body === undefined) {
      throw new FetchFailure(`status_${status}`);
    }
    if (!ACCEPTED_MEDIA_TYPES.has(mediaTypeOf(headers['content-type']))) {
      throw new FetchFailure('content_type');
    }
    const keys = parseDirectory(body, this.settings.maxKeys);
    const policy = cachePolicyOf(headers, this.settings.cacheTtlMs);
    const ttlMs = policy.ttlMs ?? this.settings.cacheTtlMs;
    return {
      kind: 'keys',
      keys,
      etag: entityTagOf(headers.etag),
      ttlMs,
      expiresAt: this.now() + ttlMs,
      checkedAt: this.now(),
      store: policy.store,
    };
  }

  // RFC 9111 section 4.3.4: a 304 freshens the stored response, with the
  // new Cache-Control when it carries one.
  private refreshed(previous: KeysEntry, headers: IncomingHttpHeaders): KeysEntry {
    const policy = cachePolicyOf(headers, this.settings.cacheTtlMs);
    const ttlMs = policy.ttlMs ?? previous.ttlMs;
    return {
      ...previous,
      etag: entityTagOf(headers.etag) ?? previous.etag,
      ttlMs,
      expiresAt: this.now() + ttlMs,
      checkedAt: this.now(),
      store: policy.store,
    };
  }
}

/** A directory could not be obtained; never leaves this file (see the class comment). */
class FetchFailure extends Error {
  constructor(readonly failure: string) {
    super(failure);
  }
}

function unknownKey(detail: Record<string, unknown>): DomainError {
  return new DomainError('UNKNOWN_KEY', 'unknown key', undefined, detail);
}

function keysOf(entry: DirectoryEntry): ReadonlyMap<string, DirectoryKey> {
  if (entry.kind === 'failure') {
    throw unknownKey({ reason: 'directory_unavailable', failure: entry.failure });
  }
  return entry.keys;
}

// The path is always the well-known one: the draft's discovery mechanism is
// the member's `type`, never a path taken from the header.
function directoryUrl(agent: SignatureAgentRef): string {
  return `${agent.origin}${WELL_KNOWN_DIRECTORY_PATH}`;
}

function settingsFrom(options: RemoteKeyResolverOptions): Settings {
  return {
    allowInsecureLocalhost: options.allowInsecureLocalhost,
    allowPrivateNetworks: options.allowPrivateNetworks,
    timeoutMs: bounded(options.timeoutMs, DEFAULTS.timeoutMs, 1, 60_000),
    maxBytes: bounded(options.maxBytes, DEFAULTS.maxBytes, 1, 16 * 1024 * 1024),
    maxKeys: bounded(options.maxKeys, DEFAULTS.maxKeys, 1, 1000),
    cacheTtlMs: bounded(options.cacheTtlMs, DEFAULTS.cacheTtlMs, 0, MAX_CACHE_MS),
    failureTtlMs: bounded(options.failureTtlMs, DEFAULTS.failureTtlMs, 0, MAX_CACHE_MS),
    cacheMaxEntries: bounded(options.cacheMaxEntries, DEFAULTS.cacheMaxEntries, 1, 1_000_000),
    recheckAfterMs: bounded(options.recheckAfterMs, DEFAULTS.recheckAfterMs, 0, MAX_CACHE_MS),
  };
}

// Configuration is validated upstream; this only guarantees that no value,
// however it was built, lifts the ceilings above.
function bounded(value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || !Number.isFinite(value)) {
    return fallback;
  }
  return Math.min(max, Math.max(min, Math.floor(value)));
}

function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) {
    return true;
  }
  return isIP(name) === 4 ? name.split('.')[0] === '127' : name === '::1';
}

function withoutZone(address: string): string {
  return address.split('%')[0];
}

// IANA special-purpose registries: private, loopback, link-local, CGNAT,
// multicast, reserved, documentation and benchmarking ranges. None hosts a
// public directory, and several reach our own infrastructure
// (169.254.169.254 is the cloud metadata service).
const SPECIAL_IPV4: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

// IPv4-mapped and NAT64 (64:ff9b::/96) addresses are judged by the IPv4
// address they embed (embeddedIpv4); 6to4 and Teredo embed one too and are
// refused outright, being deprecated.
const SPECIAL_IPV6: ReadonlyArray<readonly [string, number]> = [
  ['::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['3fff::', 20],
  ['5f00::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
];

const SPECIAL_ADDRESSES = blockListOf();

function blockListOf(): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of SPECIAL_IPV4) {
    list.addSubnet(network, prefix, 'ipv4');
  }
  for (const [network, prefix] of SPECIAL_IPV6) {
    list.addSubnet(network, prefix, 'ipv6');
  }
  return list;
}

function isSpecialPurposeAddress(address: string): boolean {
  const bare = withoutZone(address);
  const family = isIP(bare);
  if (family === 4) {
    return SPECIAL_ADDRESSES.check(bare, 'ipv4');
  }
  if (family !== 6) {
    return true;
  }
  const groups = ipv6Groups(bare);
  if (groups === undefined) {
    return true;
  }
  const embedded = embeddedIpv4(groups);
  return embedded !== undefined
    ? SPECIAL_ADDRESSES.check(embedded, 'ipv4')
    : SPECIAL_ADDRESSES.check(bare, 'ipv6');
}

// The WHATWG URL serializer writes IPv6 in RFC 5952 form (lowercase hex, no
// dotted quad), so only the "::" needs expanding.
function ipv6Groups(address: string): number[] | undefined {
  let canonical: string;
  try {
    canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const [head, tail] = canonical.split('::');
  const parse = (part: string | undefined): number[] =>
    part ? part.split(':').map((group) => parseInt(group, 16)) : [];
  const left = parse(head);
  const right = parse(tail);
  const gap = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...new Array<number>(gap).fill(0), ...right];
}

function embeddedIpv4(groups: readonly number[]): string | undefined {
  const prefix = groups.slice(0, 6).join(':');
  const mapped = prefix === '0:0:0:0:0:65535';
  const nat64 = prefix === `${0x64}:${0xff9b}:0:0:0:0`;
  if (!mapped && !nat64) {
    return undefined;
  }
  const [high, low] = [groups[6], groups[7]];
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new FetchFailure('timeout'));
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    promise
      .then(resolve, reject)
      .finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function requestHeaders(target: DirectoryTarget, etag: string | undefined): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    host: target.authority,
    accept: `${DIRECTORY_MEDIA_TYPE}, application/json;q=0.9`,
    'accept-encoding': 'identity',
  };
  if (etag !== undefined) {
    headers['if-none-match'] = etag;
  }
  return headers;
}

// The socket goes to the vetted address literal; the name only travels in
// the Host header and, for TLS, in SNI and certificate validation
// (servername). No agent: a pooled socket could outlive the vetting.
function openResponse(
  target: DirectoryTarget,
  address: string,
  headers: OutgoingHttpHeaders,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const common: http.RequestOptions = {
    host: address,
    port: target.port,
    method: 'GET',
    path: WELL_KNOWN_DIRECTORY_PATH,
    headers,
    agent: false,
    signal,
    maxHeaderSize: MAX_RESPONSE_HEADER_BYTES,
  };
  return new Promise<IncomingMessage>((resolve, reject) => {
    const request =
      target.scheme === 'https'
        ? https.request({
            ...common,
            servername: isIP(target.hostname) === 0 ? target.hostname : undefined,
            rejectUnauthorized: true,
          })
        : http.request(common);
    request.once('response', resolve);
    request.on('error', reject);
    request.end();
  });
}

// Content-Length is checked first so an honest oversized answer is not read
// at all; the running count stops a chunked or lying one.
function readCapped(response: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      reject(new FetchFailure('too_large'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new FetchFailure('too_large'));
        response.destroy();
        return;
      }
      chunks.push(chunk);
    });
    response.once('end', () => resolve(Buffer.concat(chunks, size)));
    response.on('error', reject);
    response.once('close', () => reject(new FetchFailure('connection_closed')));
  });
}

function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

function entityTagOf(etag: string | undefined): string | undefined {
  return etag !== undefined && ENTITY_TAG.test(etag) ? etag : undefined;
}

// RFC 9111 section 5.2.2: no-store forbids keeping the answer, no-cache
// makes it stale at once (revalidated next time), max-age minus Age is the
// remaining freshness. A duplicated or invalid max-age counts as stale
// (section 4.2.1); the result is clamped to the configured ceiling.
function cachePolicyOf(headers: IncomingHttpHeaders, ceilingMs: number): CachePolicy {
  const directives = (headers['cache-control'] ?? '')
    .split(',')
    .map((directive) => directive.trim().toLowerCase())
    .filter((directive) => directive !== '');
  if (directives.includes('no-store')) {
    return { store: false, ttlMs: 0 };
  }
  if (directives.includes('no-cache')) {
    return { store: true, ttlMs: 0 };
  }
  const maxAges = directives.filter((directive) => directive.startsWith('max-age='));
  if (maxAges.length === 0) {
    return { store: true };
  }
  const seconds = maxAges.length === 1 ? deltaSeconds(maxAges[0].slice('max-age='.length)) : 0;
  const age = deltaSeconds(headers.age ?? '0');
  return { store: true, ttlMs: Math.min(ceilingMs, Math.max(0, seconds - age) * 1000) };
}

function deltaSeconds(value: string): number {
  const text = value.replace(/^"(.*)"$/, '$1');
  return /^\d{1,10}$/.test(text) ? Number(text) : 0;
}

function parseDirectory(body: Buffer, maxKeys: number): Map<string, DirectoryKey> {
  const document = parseJson(body);
  if (!isRecord(document) || !Array.isArray(document.keys)) {
    throw new FetchFailure('invalid_directory');
  }
  const entries: unknown[] = document.keys;
  const keys = new Map<string, DirectoryKey>();
  for (const candidate of entries.slice(0, maxKeys)) {
    const key = directoryKeyOf(candidate);
    if (key !== undefined && !keys.has(key.kid)) {
      keys.set(key.kid, key);
    }
  }
  return keys;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    throw new FetchFailure('invalid_json');
  }
}

// One bad entry does not spoil the directory; it is simply not a key of
// the agent. A published private key is refused and never cached: whoever
// read the directory could sign with it. A `kid` that is not the key's
// RFC 7638 thumbprint is refused as the draft requires, so a directory
// cannot make one key answer to another key's keyid. An Ed25519 key anyone
// can sign for (small-order or non-canonical, see ed25519-key-strength.ts)
// is refused too: a signature by it proves nothing; so is an RSA key with
// an exponent below 3 or even, or an even modulus (toPublicJwk). A key
// published for another purpose (`use` not "sig", `key_ops` without
// "verify") is skipped; a key's `alg` stays with the imported key, which then
// verifies only signatures of that algorithm (importPublicJwk).
function directoryKeyOf(candidate: unknown): DirectoryKey | undefined {
  if (!isRecord(candidate) || hasPrivateMaterial(candidate)) {
    return undefined;
  }
  try {
    const kid = jwkThumbprint(candidate);
    if (Object.hasOwn(candidate, 'kid') && candidate.kid !== kid) {
      return undefined;
    }
    const publicJwk = toPublicJwk(candidate);
    if (publicJwk.kty === 'OKP' && ed25519JwkXWeakness(publicJwk.x) !== undefined) {
      return undefined;
    }
    return { kid, publicJwk: { ...publicJwk, kid }, key: importPublicJwk(candidate) };
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is JwkInput {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
