import { generateKeyPairSync } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { DomainError } from '../../src/common/errors/domain-error';
import { ERROR_STATUS } from '../../src/common/errors/error-code';
import { checkContentDigest } from '../../src/verification/content-digest';
import { agentUidFromHost } from '../../src/verification/core/agent-host';
import { importPublicJwk, jwkThumbprint, toPublicJwk } from '../../src/verification/core/jwk';
import type { JwkInput } from '../../src/verification/core/jwk';
import { coversSignatureAgent, parseSignatureAgent } from '../../src/verification/core/signature-agent';
import { buildSignatureBase } from '../../src/verification/core/signature-base';
import type { RequestView } from '../../src/verification/core/signature-base';
import { parseSignatureHeaders } from '../../src/verification/core/signature-headers';
import type { ComponentId, ComponentParamValue, ParsedSignature, SignatureParams } from '../../src/verification/core/signature-headers';
import { checkSignatureParams, SUPPORTED_ALGORITHMS } from '../../src/verification/core/signature-policy';
import type { SignaturePolicy } from '../../src/verification/core/signature-policy';
import { agentHeaders, agentKeyPair, registerAgent, signatureHeaders } from '../factories/agent.factory';
import type { AgentKeyPair, RegisteredAgent } from '../factories/agent.factory';
import {
  adminQueryString,
  agentUidArb,
  applyJwkMutation,
  applyMutation,
  bodyPlan,
  componentIdText,
  contentDigestText,
  digestOf,
  headerMutation,
  hostArb,
  hostileText,
  jwkMutation,
  maybeMutation,
  pathSegmentArb,
  reasonValue,
  renderBody,
  sfDictionaryText,
  sfKey,
  signatureAgentText,
  signatureInputText,
  signatureText,
  stripLoneSurrogates,
} from './hostile-arbitraries';
import type { BodyPlan, HeaderMutation } from './hostile-arbitraries';
import type { startTestApp } from './test-app';

/**
 * The hostile-input properties of issue 7, shared by
 * src/verification/core/hostile-input.property.spec.ts (unit),
 * test/hostile-input.e2e-spec.ts (HTTP) and scripts/fuzz.ts (long runs).
 * Each property carries the number of runs the test suites use; the fuzz
 * script multiplies it.
 */

export interface RunParameters {
  seed: number;
  numRuns: number;
}

export interface UnitProperty {
  readonly name: string;
  readonly suiteRuns: number;
  check(params: RunParameters): void;
}

export interface HttpProperty {
  readonly name: string;
  readonly suiteRuns: number;
  /** Counts each answer into `tally` (see outcomeKey), so callers can see how deep the cases reached. */
  check(target: HttpTarget, params: RunParameters, tally: OutcomeTally): Promise<void>;
}

// ---------------------------------------------------------------------------
// The unit invariant: return normally or throw a coded DomainError.

function isCodedDomainError(error: unknown): error is DomainError {
  return (
    error instanceof DomainError &&
    Object.hasOwn(ERROR_STATUS, error.code) &&
    error.status === ERROR_STATUS[error.code] &&
    typeof error.message === 'string'
  );
}

/** Runs `fn`; a coded DomainError counts as a refusal (undefined), any other throw fails the property. */
function refusedOrReturns<T>(step: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (error) {
    if (isCodedDomainError(error)) return undefined;
    const what = error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
    throw new Error(`${step} threw something other than a coded DomainError: ${what}`, { cause: error });
  }
}

// ---------------------------------------------------------------------------
// Real material to mutate (made once, lazily, by the factory that signs like vestauth)

/** Unit properties run at a fixed clock so timestamps in real headers are "now". */
const UNIT_NOW = 1_795_779_140;
const UNIT_AUTHORITY = 'localhost:3000';

type HeaderSet = Readonly<Record<string, string>>;

let realMaterial: { headerSets: HeaderSet[]; jwks: Array<Record<string, unknown>> } | undefined;

function material(): NonNullable<typeof realMaterial> {
  if (realMaterial) return realMaterial;
  const key = agentKeyPair();
  const agentUrl = `http://agent-0123456789abcdef01234567.${UNIT_AUTHORITY}`;
  const body = Buffer.from('{"report":"q3"}');
  const base = { authority: UNIT_AUTHORITY, created: UNIT_NOW };
  const headerSets: HeaderSet[] = [
    // vestauth's register (tag="null", no Signature-Agent) and agent curl.
    signatureHeaders(key, { ...base, tag: 'null' }),
    signatureHeaders(key, { ...base, agentUrl }),
    // web-bot-auth signers: Signature-Agent covered; more components; another label.
    signatureHeaders(key, { ...base, agentUrl, coverSignatureAgent: true }),
    {
      ...signatureHeaders(key, { ...base, agentUrl, extra: [['@method', 'POST'], ['@path', '/whoami'], ['content-digest', digestOf(body, 'sha-256')]] }),
      'Content-Digest': digestOf(body, 'sha-256'),
    },
    signatureHeaders(key, { ...base, agentUrl, label: 'sig2', extra: [['@target-uri', `http://${UNIT_AUTHORITY}/whoami?x=1`], ['@query', '?x=1']] }),
  ];
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
  const weakRsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
  const privateEd = key.privateKey.export({ format: 'jwk' });
  // Ed25519 as vestauth sends it, P-256, RSA 2048, RSA too weak, and a private key.
  const jwks: Array<Record<string, unknown>> = [{ ...key.publicJwk }, { ...ec }, { ...rsa }, { ...weakRsa }, { ...privateEd, kid: key.kid }];
  realMaterial = { headerSets, jwks };
  return realMaterial;
}

function headerOf(headers: HeaderSet, name: string): string | undefined {
  const found = Object.keys(headers).find((key) => key.toLowerCase() === name);
  return found === undefined ? undefined : headers[found];
}

// ---------------------------------------------------------------------------
// Arbitraries only the unit properties need

const requiredTagArb = fc.constantFrom<string | undefined>(undefined, 'web-bot-auth');

const requestViewArb: fc.Arbitrary<RequestView> = fc
  .record({
    method: fc.oneof(fc.constantFrom('GET', 'POST', 'get', ''), hostileText),
    scheme: fc.constantFrom('http' as const, 'https' as const),
    authority: fc.oneof(fc.constant(UNIT_AUTHORITY), hostArb(UNIT_AUTHORITY)),
    path: fc.oneof(fc.constantFrom('/whoami', '/'), hostileText),
    query: fc.oneof(fc.constantFrom('', '?x=1', '?'), hostileText.map((s) => `?${s}`)),
    headers: fc.array(
      fc.tuple(
        fc.constantFrom('signature-agent', 'content-digest', 'x-custom', 'host', 'content-type', 'user-agent', 'signature'),
        fc.array(fc.oneof(sfDictionaryText, hostileText, signatureAgentText(UNIT_AUTHORITY), contentDigestText), { maxLength: 3 }),
      ),
      { maxLength: 5 },
    ),
  })
  .map(({ headers, ...view }) => {
    const byName = new Map<string, readonly string[]>(headers);
    return { ...view, header: (name: string) => byName.get(name) };
  });

const componentParamValue: fc.Arbitrary<ComponentParamValue> = fc.oneof(
  fc.constantFrom('sig1', 'sig2'),
  sfKey,
  fc.integer(),
  fc.boolean(),
);

/** Component identifiers as the parser would hand them over, for parseSignatureAgent's member choice. */
const componentsArb: fc.Arbitrary<ComponentId[]> = fc.array(
  fc
    .record({
      name: fc.constantFrom('signature-agent', 'signature-agent', '@authority', 'content-digest'),
      params: fc.array(fc.tuple(fc.constantFrom('key', 'key', 'sf', 'bs'), componentParamValue), { maxLength: 2 }),
    })
    .map(({ name, params }) => ({ name, params: new Map(params), serialized: `"${name}"` })),
  { maxLength: 3 },
);

const numberish: fc.Arbitrary<number | undefined> = fc.oneof(
  fc.integer({ min: UNIT_NOW - 1_000, max: UNIT_NOW + 1_000 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(undefined, 0, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, Number.NaN, Infinity, -Infinity),
);

const stringish: fc.Arbitrary<string | undefined> = fc.oneof(
  hostileText,
  fc.constantFrom(undefined, '', 'ed25519', 'web-bot-auth', 'null'),
  fc.integer({ min: 0, max: 1_000 }).map((n) => 'n'.repeat(n)),
);

const signatureParamsArb: fc.Arbitrary<SignatureParams> = fc.record(
  { created: numberish, expires: numberish, keyid: stringish, alg: stringish, nonce: stringish, tag: stringish },
  { requiredKeys: [] },
);

const policyArb: fc.Arbitrary<SignaturePolicy> = fc.record({
  clockSkewSeconds: fc.oneof(fc.integer({ min: 0, max: 600 }), fc.constantFrom(Number.NaN, -1)),
  maxLifetimeSeconds: fc.oneof(fc.integer({ min: 1, max: 86_400 }), fc.constantFrom(0, Infinity)),
  requireNonce: fc.boolean(),
  requiredTag: fc.constantFrom<string | undefined>(undefined, 'web-bot-auth'),
  supportedAlgorithms: fc.subarray([...SUPPORTED_ALGORITHMS, 'hmac-sha256']),
});

/** An index into both lists of real material (five header sets, five JWKs). */
const realIndex = fc.nat({ max: 4 });

// ---------------------------------------------------------------------------
// Unit properties

/** The verification steps after parsing, each on its own so one refusal does not hide the next step's behaviour. */
function afterParsing(parsed: ParsedSignature, agentHeader: string | undefined, view: RequestView, policy: SignaturePolicy, now: number): void {
  refusedOrReturns('checkSignatureParams', () => checkSignatureParams(parsed.params, policy, now));
  refusedOrReturns('buildSignatureBase', () => buildSignatureBase(parsed, view));
  const agent = refusedOrReturns('parseSignatureAgent', () => parseSignatureAgent(agentHeader, parsed));
  if (agent) coversSignatureAgent(parsed, agent);
}

const DEFAULT_POLICY: SignaturePolicy = {
  clockSkewSeconds: 30,
  maxLifetimeSeconds: 330,
  requireNonce: true,
  requiredTag: 'web-bot-auth',
  supportedAlgorithms: SUPPORTED_ALGORITHMS,
};

const signatureHeadersMutated: UnitProperty = {
  name: 'parseSignatureHeaders and the steps after it, on mutated real vestauth headers',
  suiteRuns: 1_000,
  check: (params) =>
    fc.assert(
      fc.property(
        realIndex,
        headerMutation,
        maybeMutation(2),
        maybeMutation(3),
        requiredTagArb,
        requestViewArb,
        (index, inputMutation, signatureMutation, agentMutation, requiredTag, view) => {
          const headers = material().headerSets[index];
          const input = applyMutation(headerOf(headers, 'signature-input'), inputMutation);
          const signature = applyMutation(headerOf(headers, 'signature'), signatureMutation);
          const agentHeader = applyMutation(headerOf(headers, 'signature-agent'), agentMutation);
          const parsed = refusedOrReturns('parseSignatureHeaders', () => parseSignatureHeaders(input, signature, { requiredTag }));
          if (parsed) afterParsing(parsed, agentHeader, view, DEFAULT_POLICY, UNIT_NOW);
        },
      ),
      params,
    ),
};

const signatureHeadersGenerated: UnitProperty = {
  name: 'parseSignatureHeaders and the steps after it, on generated structured fields',
  suiteRuns: 800,
  check: (params) =>
    fc.assert(
      fc.property(
        signatureInputText(UNIT_NOW),
        signatureText,
        fc.option(signatureAgentText(UNIT_AUTHORITY), { nil: undefined }),
        requiredTagArb,
        requestViewArb,
        policyArb,
        (input, signature, agentHeader, requiredTag, view, policy) => {
          const parsed = refusedOrReturns('parseSignatureHeaders', () => parseSignatureHeaders(input, signature, { requiredTag }));
          if (parsed) afterParsing(parsed, agentHeader, view, policy, UNIT_NOW);
        },
      ),
      params,
    ),
};

const signatureParamsChecked: UnitProperty = {
  name: 'checkSignatureParams on arbitrary parameters, policies and clocks',
  suiteRuns: 400,
  check: (params) =>
    fc.assert(
      fc.property(signatureParamsArb, policyArb, numberish, (signatureParams, policy, now) => {
        refusedOrReturns('checkSignatureParams', () => checkSignatureParams(signatureParams, policy, now ?? UNIT_NOW));
      }),
      params,
    ),
};

const signatureBaseBuilt: UnitProperty = {
  name: 'buildSignatureBase over generated components and hostile requests',
  suiteRuns: 500,
  check: (params) =>
    fc.assert(
      fc.property(fc.array(componentIdText, { maxLength: 8 }), requestViewArb, (components, view) => {
        const input = `sig1=(${components.join(' ')});created=${UNIT_NOW};keyid="k";alg="ed25519";expires=${UNIT_NOW + 300};nonce="n";tag="web-bot-auth"`;
        const parsed = refusedOrReturns('parseSignatureHeaders', () => parseSignatureHeaders(input, 'sig1=:AAAA:', { requiredTag: 'web-bot-auth' }));
        if (!parsed) return;
        const base = refusedOrReturns('buildSignatureBase', () => buildSignatureBase(parsed, view));
        // A base is line-oriented: a value that smuggled a line break would forge a component line.
        if (base !== undefined && base.split('\n').length !== parsed.components.length + 1) {
          throw new Error(`signature base has ${base.split('\n').length} lines for ${parsed.components.length} components`);
        }
      }),
      params,
    ),
};

const AGENT_HOST = /^(?:[a-z0-9-]+\.)*[a-z0-9-]+$|^\[[0-9a-f:.]+\]$/;

const signatureAgentParsed: UnitProperty = {
  name: 'parseSignatureAgent on generated and mutated Signature-Agent values',
  suiteRuns: 600,
  check: (params) =>
    fc.assert(
      fc.property(
        fc.oneof(
          signatureAgentText(UNIT_AUTHORITY),
          fc.tuple(realIndex, headerMutation).map(([index, m]) => applyMutation(headerOf(material().headerSets[index], 'signature-agent'), m)),
        ),
        fc.oneof(fc.constantFrom('sig1', 'sig2'), sfKey),
        componentsArb,
        (header, label, components) => {
          const agent = refusedOrReturns('parseSignatureAgent', () => parseSignatureAgent(header, { label, components }));
          if (!agent) return;
          // What the resolvers rely on: an origin and nothing else.
          if (!AGENT_HOST.test(agent.host) || !['http', 'https'].includes(agent.scheme) || agent.url.pathname !== '/' || agent.url.username !== '') {
            throw new Error(`parseSignatureAgent accepted a non-origin: ${agent.url.href}`);
          }
          coversSignatureAgent({ components }, agent);
        },
      ),
      params,
    ),
};

const agentHostMatched: UnitProperty = {
  name: 'agentUidFromHost never throws and only returns a uid for exactly <uid>.<authority>',
  suiteRuns: 500,
  check: (params) =>
    fc.assert(
      fc.property(
        fc.oneof(hostArb(UNIT_AUTHORITY), hostArb('auth.example'), hostileText),
        fc.oneof(fc.constantFrom(UNIT_AUTHORITY, 'LOCALHOST:3000', 'auth.example', '', 'localhost'), hostileText),
        (host, authority) => {
          const uid = agentUidFromHost(host, authority);
          if (uid !== undefined && (!/^agent-[0-9a-f]{24}$/.test(uid) || `${uid}.${authority}`.toLowerCase() !== host.toLowerCase())) {
            throw new Error(`agentUidFromHost(${JSON.stringify(host)}, ${JSON.stringify(authority)}) returned ${uid}`);
          }
        },
      ),
      params,
    ),
};

const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = { OKP: ['kty', 'crv', 'x'], EC: ['kty', 'crv', 'x', 'y'], RSA: ['kty', 'e', 'n'] };

function checkJwkFunctions(jwk: unknown): void {
  // The service only ever hands these functions a JSON object (the DTO checks that).
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return;
  const input = jwk as JwkInput;
  const publicJwk = refusedOrReturns('toPublicJwk', () => toPublicJwk(input));
  if (publicJwk) {
    const members = Object.keys(publicJwk).sort();
    if (members.join() !== [...(PUBLIC_MEMBERS[publicJwk.kty] ?? [])].sort().join()) {
      throw new Error(`toPublicJwk kept members ${members.join()}`);
    }
  }
  const kid = refusedOrReturns('jwkThumbprint', () => jwkThumbprint(input));
  if (kid !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(kid)) throw new Error(`thumbprint ${kid} is not 43 base64url characters`);
  refusedOrReturns('importPublicJwk', () => importPublicJwk(input));
}

const jwksMutated: UnitProperty = {
  name: 'toPublicJwk, jwkThumbprint and importPublicJwk on mutated real JWKs',
  suiteRuns: 600,
  check: (params) =>
    fc.assert(
      fc.property(realIndex, fc.array(jwkMutation, { minLength: 1, maxLength: 3 }), (index, mutations) => {
        const jwk = mutations.reduce<unknown>(
          (current, m) => (typeof current === 'object' && current !== null && !Array.isArray(current) ? applyJwkMutation(current as Record<string, unknown>, m) : current),
          material().jwks[index],
        );
        checkJwkFunctions(jwk);
      }),
      params,
    ),
};

const jwksFromBodies: UnitProperty = {
  name: 'the JWK functions on public_jwk parsed from hostile JSON bodies',
  suiteRuns: 300,
  check: (params) =>
    fc.assert(
      fc.property(realIndex, bodyPlan, (index, plan) => {
        let body: unknown;
        try {
          body = JSON.parse(renderBody('public_jwk', material().jwks[index], plan));
        } catch {
          return; // not JSON: the body parser answers that before any of our code runs
        }
        if (typeof body === 'object' && body !== null && Object.hasOwn(body, 'public_jwk')) {
          checkJwkFunctions((body as { public_jwk: unknown }).public_jwk);
        }
      }),
      params,
    ),
};

const contentDigestChecked: UnitProperty = {
  name: 'checkContentDigest on generated and mutated Content-Digest values',
  suiteRuns: 500,
  check: (params) =>
    fc.assert(
      fc.property(
        fc.option(fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)), { nil: undefined }),
        fc.oneof(contentDigestText, fc.tuple(fc.constantFrom('sha-256' as const, 'sha-512' as const), maybeMutation(1)).map(([alg, m]) => ({ alg, m }))),
        (body, digest) => {
          const header = typeof digest === 'string' ? digest : applyMutation(digestOf(body ?? Buffer.alloc(0), digest.alg), digest.m);
          refusedOrReturns('checkContentDigest', () => checkContentDigest(header, body ?? Buffer.alloc(0)));
        },
      ),
      params,
    ),
};

export const UNIT_PROPERTIES: readonly UnitProperty[] = [
  signatureHeadersMutated,
  signatureHeadersGenerated,
  signatureParamsChecked,
  signatureBaseBuilt,
  signatureAgentParsed,
  agentHostMatched,
  jwksMutated,
  jwksFromBodies,
  contentDigestChecked,
];

// ---------------------------------------------------------------------------
// HTTP: sending, and the invariant every answer must meet

export interface WireRequest {
  method: string;
  path: string;
  /** A value of null sends no such header (for Host: no Host line at all). */
  headers: Record<string, string | string[] | null>;
  body?: string;
}

export type WireOutcome =
  | { kind: 'response'; status: number; body: string }
  | { kind: 'error'; code: string; message: string };

const REQUEST_TIMEOUT_MS = 15_000;

/**
 * Header values as bytes on the wire: what is not Latin-1 goes out as its
 * UTF-8 bytes (which is what a raw client would send); control characters,
 * which no HTTP/1.1 client may send and Node refuses to, are dropped.
 */
function toWire(value: string): string {
  return Buffer.from(stripLoneSurrogates(value), 'utf8').toString('latin1').replace(/[^\t\x20-\x7e\x80-\xff]/g, '');
}

/**
 * One request on its own connection with node:http, so a reset or a hang
 * is seen as such (supertest would turn a reset into a thrown error that
 * looks like any other).
 */
function send(port: number, req: WireRequest): Promise<WireOutcome> {
  return new Promise((resolve) => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== null) headers[name] = Array.isArray(value) ? value.map(toWire) : toWire(value);
    }
    const hostless = req.headers.host === null;
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    const client = httpRequest({ host: '127.0.0.1', port, method: req.method, path: req.path, headers, agent: false, setHost: !hostless });
    client.setTimeout(REQUEST_TIMEOUT_MS, () => client.destroy(Object.assign(new Error('no answer in time'), { code: 'HANG' })));
    client.on('error', (error: NodeJS.ErrnoException) => resolve({ kind: 'error', code: error.code ?? 'UNKNOWN', message: error.message }));
    client.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ kind: 'error', code: error.code ?? 'UNKNOWN', message: error.message }));
      res.on('end', () => resolve({ kind: 'response', status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    client.end(req.body === undefined ? undefined : Buffer.from(req.body, 'utf8'));
  });
}

/** Node answers 431 (and closes) past 16 KiB of headers; a margin keeps the estimate on the safe side. */
const NODE_HEADER_LIMIT = 16 * 1024;

function headerBytes(req: WireRequest): number {
  let total = req.method.length + req.path.length + 12;
  for (const [name, value] of Object.entries(req.headers)) {
    for (const v of value === null ? [] : Array.isArray(value) ? value : [value]) total += name.length + toWire(v).length + 4;
  }
  return total;
}

/**
 * The HTTP invariant: an answer (no reset, no hang), never 5xx, and every
 * 4xx in DESIGN.md's error shape with the HTTP status. Past Node's header
 * limit or the body limit the server may answer 431/413 and close the
 * connection while the client is still writing: a reset is legitimate only
 * there.
 */
function assertWellFormedOutcome(req: WireRequest, outcome: WireOutcome, bodyLimitBytes: number): void {
  const oversized = headerBytes(req) > NODE_HEADER_LIMIT - 1024 || Buffer.byteLength(req.body ?? '') > bodyLimitBytes;
  const where = `${req.method} ${req.path}`;
  if (outcome.kind === 'error') {
    if (oversized && ['ECONNRESET', 'EPIPE'].includes(outcome.code)) return;
    throw new Error(`${where}: connection failed (${outcome.code}: ${outcome.message})`);
  }
  const { status, body } = outcome;
  if (status >= 500) throw new Error(`${where}: answered ${status}: ${body.slice(0, 300)}`);
  if (status < 400 || req.method === 'HEAD') return; // a HEAD answer has no body to check
  // Node's own answers, before the app sees the request: headers past its
  // limit, and an HTTP/1.1 request without Host (http.Server requireHostHeader).
  if (body === '' && (status === 431 || (status === 400 && req.headers.host === null))) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`${where}: ${status} with a body that is not JSON: ${body.slice(0, 200)}`);
  }
  if (!isErrorBody(parsed, status)) throw new Error(`${where}: ${status} body is not {error:{status,code,message}}: ${body.slice(0, 300)}`);
}

function isErrorBody(value: unknown, status: number): boolean {
  if (typeof value !== 'object' || value === null || Object.keys(value).join() !== 'error') return false;
  const error = (value as { error: unknown }).error;
  if (typeof error !== 'object' || error === null) return false;
  const { status: s, code, message } = error as Record<string, unknown>;
  return s === status && typeof code === 'string' && Object.hasOwn(ERROR_STATUS, code) && typeof message === 'string';
}

// ---------------------------------------------------------------------------
// HTTP properties

export interface HttpTarget {
  port: number;
  /** host:port of PUBLIC_URL, what agents sign as @authority. */
  authority: string;
  bodyLimitBytes: number;
  /** An agent listed in ADMIN_AGENT_UIDS. */
  admin: RegisteredAgent;
  /** Signs the /whoami cases; never disabled or rotated by the properties. */
  caller: RegisteredAgent;
  /** Rotated by the rotate property whenever a rotation succeeds. */
  rotator: RegisteredAgent;
  /** Targets of the admin property (disable, enable, revoke) and of directory lookups. */
  victims: RegisteredAgent[];
}

type HostPlan = { readonly kind: 'signed' } | { readonly kind: 'absent' } | { readonly kind: 'value'; readonly value: string };

function hostPlan(target: HttpTarget, keepWeight: number): fc.Arbitrary<HostPlan> {
  const uids = [target.caller, target.rotator, ...target.victims].map((a) => a.uid);
  return fc.oneof(
    { weight: keepWeight, arbitrary: fc.constant({ kind: 'signed' } as const) },
    { weight: 1, arbitrary: fc.constant({ kind: 'absent' } as const) },
    { weight: 4, arbitrary: hostArb(target.authority, fc.oneof(fc.constantFrom(...uids), agentUidArb)).map((value) => ({ kind: 'value', value }) as const) },
  );
}

function hostHeader(target: HttpTarget, plan: HostPlan): string | null {
  return plan.kind === 'signed' ? target.authority : plan.kind === 'absent' ? null : plan.value;
}

interface SignedHeaderPlan {
  readonly signatureInput: HeaderMutation;
  readonly signature: HeaderMutation;
  readonly signatureAgent: HeaderMutation;
  readonly duplicateHeaders: boolean;
}

/** Mutations of a request's real signature headers; Signature-Agent is sometimes replaced by another agent's or a foreign origin. */
function signedHeaderPlan(target: HttpTarget): fc.Arbitrary<SignedHeaderPlan> {
  const uids = [target.admin, target.caller, target.rotator, ...target.victims].map((a) => a.uid);
  return fc.record({
    signatureInput: maybeMutation(3),
    signature: maybeMutation(4),
    signatureAgent: fc.oneof(
      { weight: 5, arbitrary: maybeMutation(4) },
      { weight: 1, arbitrary: signatureAgentText(target.authority, uids).map((value) => ({ op: 'replace', value }) as const) },
    ),
    duplicateHeaders: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  });
}

/** Signature headers after the plan's mutations; sometimes sent twice, as two header lines. */
function mutatedSignatureHeaders(signed: Readonly<Record<string, string>>, plan: SignedHeaderPlan): Record<string, string | string[] | null> {
  const out: Record<string, string | string[] | null> = {};
  const fields: Array<[string, HeaderMutation]> = [
    ['signature-input', plan.signatureInput],
    ['signature', plan.signature],
    ['signature-agent', plan.signatureAgent],
  ];
  for (const [name, mutation] of fields) {
    const value = applyMutation(headerOf(signed, name), mutation);
    if (value === undefined) continue;
    out[name] = plan.duplicateHeaders && name !== 'signature-agent' ? [value, headerOf(signed, name) ?? value] : value;
  }
  return out;
}

const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'application/json; charset=utf-16', 'application/json; charset=latin1',
  'application/json; charset=""', 'text/plain', 'application/x-www-form-urlencoded', 'application/merge-patch+json', '', 'application/json;;',
];

const contentTypeArb = fc.oneof({ weight: 6, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) });
const contentEncodingArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant<string | null>(null) },
  { weight: 1, arbitrary: fc.constantFrom<string | null>('gzip', 'deflate', 'br', 'identity', 'x-unknown', 'gzip, gzip') },
);

/** Answers by kind: `200`, `401 INVALID_SIGNATURE`, `431`, `reset ECONNRESET`. */
export type OutcomeTally = Map<string, number>;

function outcomeKey(outcome: WireOutcome): string {
  if (outcome.kind === 'error') return `reset ${outcome.code}`;
  if (outcome.status < 400) return String(outcome.status);
  try {
    const code: unknown = (JSON.parse(outcome.body) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? `${outcome.status} ${code}` : String(outcome.status);
  } catch {
    return String(outcome.status);
  }
}

async function expectWellFormed(target: HttpTarget, tally: OutcomeTally, req: WireRequest): Promise<WireOutcome> {
  const outcome = await send(target.port, req);
  assertWellFormedOutcome(req, outcome, target.bodyLimitBytes);
  const key = outcomeKey(outcome);
  tally.set(key, (tally.get(key) ?? 0) + 1);
  return outcome;
}

const registerProperty: HttpProperty = {
  name: 'POST /register',
  suiteRuns: 90,
  check: (target, params, tally) =>
    fc.assert(
      fc.asyncProperty(signedHeaderPlan(target), hostPlan(target, 5), bodyPlan, contentTypeArb, contentEncodingArb, async (headers, host, body, contentType, encoding) => {
        const key = agentKeyPair();
        const signed = signatureHeaders(key, { authority: target.authority, tag: 'null' });
        await expectWellFormed(target, tally, {
          method: 'POST',
          path: '/register',
          headers: { host: hostHeader(target, host), 'content-type': contentType, 'content-encoding': encoding, ...mutatedSignatureHeaders(signed, headers) },
          body: renderBody('public_jwk', key.publicJwk, body),
        });
      }),
      params,
    ),
};

const rotateProperty: HttpProperty = {
  name: 'POST /rotate',
  suiteRuns: 70,
  check: (target, params, tally) =>
    fc.assert(
      fc.asyncProperty(signedHeaderPlan(target), hostPlan(target, 5), bodyPlan, contentTypeArb, async (headers, host, body, contentType) => {
        const next = agentKeyPair();
        const signed = agentHeaders(target.rotator, target.authority);
        const outcome = await expectWellFormed(target, tally, {
          method: 'POST',
          path: '/rotate',
          headers: { host: hostHeader(target, host), 'content-type': contentType, ...mutatedSignatureHeaders(signed, headers) },
          body: renderBody('public_jwk', next.publicJwk, body),
        });
        // The next cases sign with whichever key is current now.
        if (outcome.kind === 'response' && outcome.status === 200) target.rotator = { ...target.rotator, ...rotatedKey(next) };
      }),
      params,
    ),
};

function rotatedKey(next: AgentKeyPair): AgentKeyPair {
  return { privateKey: next.privateKey, publicJwk: next.publicJwk, kid: next.kid };
}

/** Components a /whoami case covers besides @authority, with values signed correctly, so the checks behind the signature run. */
const COVERABLE = ['@method', '@path', '@query', '@target-uri', 'x-custom', 'content-digest'] as const;

interface CoveredPlan {
  readonly method: 'GET' | 'POST';
  readonly covered: ReadonlyArray<(typeof COVERABLE)[number]>;
  readonly digest: { readonly algorithm: 'sha-256' | 'sha-512' } | { readonly text: string };
  readonly custom: string;
  readonly bodyText: string | undefined;
}

function coveredPlan(digestTextWeight: number): fc.Arbitrary<CoveredPlan> {
  return fc.record({
    method: fc.constantFrom('GET' as const, 'POST' as const),
    covered: fc.subarray([...COVERABLE]),
    digest: fc.oneof(
      { weight: 1, arbitrary: fc.constantFrom('sha-256' as const, 'sha-512' as const).map((algorithm) => ({ algorithm })) },
      { weight: digestTextWeight, arbitrary: contentDigestText.map((text) => ({ text })) },
    ),
    custom: hostileText,
    bodyText: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: hostileText }),
  });
}

/** A /whoami request by the caller that signs the plan's components with the values it sends. */
function whoamiRequest(target: HttpTarget, plan: CoveredPlan): { signed: Record<string, string>; req: WireRequest } {
  const body = plan.method === 'POST' ? (plan.bodyText ?? '{}') : undefined;
  const digest = 'text' in plan.digest ? toWire(plan.digest.text) : digestOf(Buffer.from(body ?? '', 'utf8'), plan.digest.algorithm);
  const values: Record<(typeof COVERABLE)[number], string> = {
    '@method': plan.method,
    '@path': '/whoami',
    '@query': '?',
    '@target-uri': `http://${target.authority}/whoami`,
    // RFC 9421 section 2.1: the verifier trims spaces and tabs only.
    'x-custom': trimSp(toWire(plan.custom)),
    'content-digest': trimSp(digest),
  };
  const signed = agentHeaders(target.caller, target.authority, { extra: plan.covered.map((c) => [c, values[c]]) });
  const headers: WireRequest['headers'] = {
    host: target.authority,
    'x-custom': plan.covered.includes('x-custom') ? values['x-custom'] : null,
    'content-digest': plan.covered.includes('content-digest') ? values['content-digest'] : null,
    'content-type': body === undefined ? null : 'application/json',
    ...signed,
  };
  return { signed, req: { method: plan.method, path: '/whoami', headers, body } };
}

const whoamiProperty: HttpProperty = {
  name: 'GET and POST /whoami with mutated signature headers and Host',
  suiteRuns: 80,
  check: (target, params, tally) =>
    fc.assert(
      fc.asyncProperty(coveredPlan(1), signedHeaderPlan(target), hostPlan(target, 6), async (plan, headers, host) => {
        const { signed, req } = whoamiRequest(target, plan);
        for (const name of Object.keys(signed)) delete req.headers[name];
        Object.assign(req.headers, { host: hostHeader(target, host) }, mutatedSignatureHeaders(signed, headers));
        await expectWellFormed(target, tally, req);
      }),
      params,
    ),
};

/** Every case here verifies: what is hostile is the covered component values behind the signature. */
const whoamiCoveredProperty: HttpProperty = {
  name: 'GET and POST /whoami, validly signed over hostile covered values (content-digest, fields)',
  suiteRuns: 60,
  check: (target, params, tally) =>
    fc.assert(
      fc.asyncProperty(coveredPlan(3), async (plan) => {
        await expectWellFormed(target, tally, whoamiRequest(target, plan).req);
      }),
      params,
    ),
};

function trimSp(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '');
}

const DIRECTORY_PATH = '/.well-known/http-message-signatures-directory';

const directoryProperty: HttpProperty = {
  name: `GET ${DIRECTORY_PATH} with arbitrary Host`,
  suiteRuns: 70,
  check: (target, params, tally) =>
    fc.assert(
      fc.asyncProperty(
        hostPlan(target, 1),
        fc.constantFrom('', '?x=1', '/', '%2F', '?', '/..', '%00', '.json'),
        fc.constantFrom('GET', 'GET', 'HEAD', 'POST', 'OPTIONS'),
        async (host, suffix, method) => {
          await expectWellFormed(target, tally, { method, path: `${DIRECTORY_PATH}${suffix}`, headers: { host: hostHeader(target, host) } });
        },
      ),
      params,
    ),
};

type AdminPlan =
  | { readonly route: 'list-agents' | 'audit-events' | 'audit-summary'; readonly query: string; readonly csv: boolean }
  | { readonly route: 'audit-verify' }
  | { readonly route: 'agent-detail' | 'disable' | 'enable'; readonly uid: string }
  | { readonly route: 'revoke'; readonly uid: string; readonly kid: string; readonly reason: RevokeBody };

type RevokeBody = { readonly kind: 'reason'; readonly value: unknown } | { readonly kind: 'plan'; readonly plan: BodyPlan };

function adminPlanArb(target: HttpTarget): fc.Arbitrary<AdminPlan> {
  const uid = pathSegmentArb(target.victims.map((v) => v.uid));
  const kid = pathSegmentArb(target.victims.map((v) => v.kid));
  // Mostly a real uid with its own kid, so the reason reaches the database.
  const uidAndKid = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...target.victims).map((v) => ({ uid: v.uid, kid: v.kid })) },
    { weight: 1, arbitrary: fc.record({ uid, kid }) },
  );
  const reason: fc.Arbitrary<RevokeBody> = fc.oneof(
    { weight: 6, arbitrary: reasonValue.map((value) => ({ kind: 'reason', value }) as const) },
    { weight: 1, arbitrary: bodyPlan.map((plan) => ({ kind: 'plan', plan }) as const) },
  );
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ route: fc.constantFrom('list-agents' as const, 'audit-events' as const, 'audit-summary' as const), query: adminQueryString, csv: fc.boolean() }) },
    { weight: 1, arbitrary: fc.constant({ route: 'audit-verify' } as const) },
    { weight: 2, arbitrary: fc.record({ route: fc.constantFrom('agent-detail' as const, 'disable' as const, 'enable' as const), uid }) },
    { weight: 3, arbitrary: fc.tuple(uidAndKid, reason).map(([ids, r]) => ({ route: 'revoke', ...ids, reason: r }) as const) },
  );
}

function adminRequest(plan: AdminPlan): Pick<WireRequest, 'method' | 'path' | 'body'> {
  switch (plan.route) {
    case 'list-agents':
      return { method: 'GET', path: `/admin/agents?${plan.query}` };
    case 'audit-events':
      return { method: 'GET', path: `/admin/audit-events?${plan.query}${plan.csv ? '&format=csv' : ''}` };
    case 'audit-summary':
      return { method: 'GET', path: `/admin/audit-events/summary?${plan.query}` };
    case 'audit-verify':
      return { method: 'GET', path: '/admin/audit-events/verify' };
    case 'agent-detail':
      return { method: 'GET', path: `/admin/agents/${plan.uid}` };
    case 'disable':
    case 'enable':
      return { method: 'POST', path: `/admin/agents/${plan.uid}/${plan.route}` };
    case 'revoke':
      return {
        method: 'POST',
        path: `/admin/agents/${plan.uid}/keys/${plan.kid}/revoke`,
        body: plan.reason.kind === 'reason' ? JSON.stringify({ reason: plan.reason.value }) : renderBody('reason', { text: 'x' }, plan.reason.plan),
      };
  }
}

const adminProperty: HttpProperty = {
  name: 'admin routes (agents, audit events) with hostile parameters and bodies',
  suiteRuns: 110,
  check: (target, params, tally) =>
    fc.assert(
      fc.asyncProperty(adminPlanArb(target), signedHeaderPlan(target), fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }), async (plan, headers, mutateSignature) => {
        const signed = agentHeaders(target.admin, target.authority);
        const { method, path, body } = adminRequest(plan);
        await expectWellFormed(target, tally, {
          method,
          path,
          headers: {
            host: target.authority,
            'content-type': body === undefined ? null : 'application/json',
            ...(mutateSignature ? mutatedSignatureHeaders(signed, headers) : signed),
          },
          body,
        });
      }),
      params,
    ),
};

export const HTTP_PROPERTIES: readonly HttpProperty[] = [registerProperty, rotateProperty, whoamiProperty, whoamiCoveredProperty, directoryProperty, adminProperty];

export interface HostileApp {
  target: HttpTarget;
  close(): Promise<void>;
}

/**
 * Boots the app for the HTTP properties: a first boot registers the agent
 * that the second boot lists in ADMIN_AGENT_UIDS (uids are issued at
 * registration), then the caller, the rotator and three victims register.
 * `start` is startTestApp, passed in so the unit suite, which imports this
 * module, does not load the application.
 */
export async function startHostileApp(start: typeof startTestApp): Promise<HostileApp> {
  const first = await start();
  const admin = await registerAgent(first.url, `localhost:${first.port}`);
  await first.close();
  const app = await start({ ADMIN_AGENT_UIDS: admin.uid });
  const authority = `localhost:${app.port}`;
  const register = () => registerAgent(app.url, authority);
  const target: HttpTarget = {
    port: app.port,
    authority,
    bodyLimitBytes: app.config.bodyLimitBytes,
    admin: { ...admin, agentUrl: `http://${admin.uid}.${authority}` },
    caller: await register(),
    rotator: await register(),
    victims: [await register(), await register(), await register()],
  };
  return { target, close: () => app.close() };
}

/** After the storm: the service still answers its status and readiness routes. */
export async function assertStillServing(target: HttpTarget): Promise<void> {
  for (const path of ['/', '/health/ready']) {
    const outcome = await send(target.port, { method: 'GET', path, headers: { host: target.authority } });
    if (outcome.kind !== 'response' || outcome.status !== 200) {
      throw new Error(`GET ${path} after the hostile requests: ${outcome.kind === 'response' ? `${outcome.status} ${outcome.body.slice(0, 200)}` : outcome.code}`);
    }
  }
}

/** Lines the test app logs at error or fatal level (its logger writes them to stderr with this prefix). */
export function captureAppErrors(): { readonly lines: string[]; stop(): void } {
  const lines: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (text.startsWith('[test app error]') || text.startsWith('[test app fatal]')) lines.push(text.trim());
    return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  return { lines, stop: () => void (process.stderr.write = original) };
}
