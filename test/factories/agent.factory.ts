import { createHash, createPrivateKey, generateKeyPairSync, KeyObject, randomBytes, sign } from 'node:crypto';
import request from 'supertest';
import type { App } from 'supertest/types';

export interface AgentKeyPair {
  privateKey: KeyObject;
  /** `{kty, crv, x, kid}` as vestauth sends it. */
  publicJwk: { kty: 'OKP'; crv: 'Ed25519'; x: string; kid: string };
  kid: string;
}

/** A fresh Ed25519 key pair, with the RFC 7638 thumbprint as kid. */
export function agentKeyPair(): AgentKeyPair {
  // JWK output straight from the generator: exporting a fresh KeyObject can
  // deadlock Node 20.20 when garbage collection runs at that moment.
  // (typed in scripts/bench/node-crypto-jwk.d.ts)
  const { privateKey: jwk } = generateKeyPairSync('ed25519', { publicKeyEncoding: { format: 'jwk' }, privateKeyEncoding: { format: 'jwk' } });
  const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  const x = String(jwk.x);
  const kid = createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url');
  return { privateKey, publicJwk: { kty: 'OKP', crv: 'Ed25519', x, kid }, kid };
}

export interface SignOptions {
  /** host[:port] to sign as @authority. */
  authority: string;
  /** Signature-Agent member value (omit for /register). */
  agentUrl?: string;
  label?: string;
  created?: number;
  expires?: number;
  /** null: no nonce parameter at all. */
  nonce?: string | null;
  /** null: no tag parameter. */
  tag?: string | null;
  alg?: string | null;
  keyid?: string;
  /** Extra covered components with their values, e.g. [['@method', 'GET']]; signed after @authority. */
  extra?: Array<[identifier: string, value: string]>;
  /** Cover Signature-Agent as "signature-agent";key="<label>". */
  coverSignatureAgent?: boolean;
  /** Sign with this key instead (a forgery). */
  signingKey?: KeyObject;
}

/**
 * Signs exactly as vestauth 0.21.1 does (DESIGN.md section 2): the base is
 * the covered lines plus "@signature-params", parameters in vestauth's
 * order. Written independently of the service's own code on purpose.
 */
export function signatureHeaders(key: AgentKeyPair, o: SignOptions): Record<string, string> {
  const label = o.label ?? 'sig1';
  const created = o.created ?? Math.floor(Date.now() / 1000);
  const expires = o.expires ?? created + 300;
  const nonce = o.nonce === undefined ? randomBytes(64).toString('base64url') : o.nonce;
  const tag = o.tag === undefined ? 'web-bot-auth' : o.tag;
  const alg = o.alg === undefined ? 'ed25519' : o.alg;
  const lines: Array<[string, string]> = [['"@authority"', o.authority], ...(o.extra ?? []).map(([id, v]): [string, string] => [`"${id}"`, v])];
  if (o.coverSignatureAgent && o.agentUrl) lines.push([`"signature-agent";key="${label}"`, `"${o.agentUrl}"`]);
  let params = `(${lines.map(([id]) => id).join(' ')});created=${created};keyid="${o.keyid ?? key.kid}"`;
  if (alg !== null) params += `;alg="${alg}"`;
  params += `;expires=${expires}`;
  if (nonce !== null) params += `;nonce="${nonce}"`;
  if (tag !== null) params += `;tag="${tag}"`;
  const base = [...lines.map(([id, v]) => `${id}: ${v}`), `"@signature-params": ${params}`].join('\n');
  const signature = sign(null, Buffer.from(base), o.signingKey ?? key.privateKey).toString('base64');
  const headers: Record<string, string> = {
    Signature: `${label}=:${signature}:`,
    'Signature-Input': `${label}=${params}`,
  };
  if (o.agentUrl) headers['Signature-Agent'] = `${label}="${o.agentUrl}"`;
  return headers;
}

export interface RegisteredAgent extends AgentKeyPair {
  uid: string;
  /** http://<uid>.localhost:<port> */
  agentUrl: string;
}

/** Registers a new agent the way `vestauth agent init` does. */
export async function registerAgent(server: App | string, authority: string, key: AgentKeyPair = agentKeyPair()): Promise<RegisteredAgent> {
  const res = await request(server)
    .post('/register')
    .set('Host', authority)
    .set(signatureHeaders(key, { authority, tag: 'null' }))
    .send({ public_jwk: key.publicJwk })
    .expect(200);
  const uid = res.body.uid as string;
  return { ...key, uid, agentUrl: `http://${uid}.${authority}` };
}

/** Headers for a request by a registered agent, as `vestauth agent curl` signs it. */
export function agentHeaders(agent: RegisteredAgent, authority: string, overrides: Partial<SignOptions> = {}): Record<string, string> {
  return signatureHeaders(agent, { authority, agentUrl: agent.agentUrl, ...overrides });
}

/** The Ed25519 identity point (y = 1): a "public key" no private key belongs to. */
export const IDENTITY_POINT_X = 'AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

/**
 * A request "signed" for the Ed25519 public key `x` without any private key:
 * R = the identity point, S = 0. OpenSSL accepts it for every message when
 * x is the identity (and for some messages for the other small-order points).
 * Signs as signatureHeaders does; only the signature bytes are forged.
 */
export function forgedSignatureHeaders(x: string, o: Omit<SignOptions, 'signingKey'>): Record<string, string> {
  const publicJwk = publicJwkOf(x);
  const anyKey = agentKeyPair();
  const headers = signatureHeaders({ ...anyKey, publicJwk, kid: publicJwk.kid }, o);
  const forged = Buffer.concat([Buffer.from(IDENTITY_POINT_X, 'base64url'), Buffer.alloc(32)]).toString('base64');
  const label = o.label ?? 'sig1';
  return { ...headers, Signature: `${label}=:${forged}:` };
}

/** The public JWK of `x` as vestauth sends it (kid: its thumbprint). */
export function publicJwkOf(x: string): AgentKeyPair['publicJwk'] {
  return { kty: 'OKP', crv: 'Ed25519', x, kid: createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url') };
}
