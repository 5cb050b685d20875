import { createHash, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { Agent, request } from 'node:http';
import { AgentKeyPair, signatureHeaders } from '../../test/factories/agent.factory';
import type { StoredAgent } from './protocol';

const UID = /^agent-[0-9a-f]{24}$/;

/**
 * A fresh Ed25519 key pair like the factory's agentKeyPair(), made so that
 * it cannot deadlock: on Node 20.20, exporting a key returned by
 * generateKeyPairSync() as a KeyObject can hang the process for good when a
 * garbage collection during the export finalizes the key's generation job,
 * which takes the mutex the export holds (seen within ~10,000 keys). With
 * an output encoding the export happens inside the live job; JWK, because
 * importing it is far cheaper than OpenSSL 3's DER decoder.
 */
export function benchKeyPair(): AgentKeyPair {
  const { privateKey: jwk } = generateKeyPairSync('ed25519', { publicKeyEncoding: { format: 'jwk' }, privateKeyEncoding: { format: 'jwk' } });
  const { x, d } = jwk;
  if (!x || !d) throw new Error('Ed25519 JWK without x or d');
  const kid = createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url');
  return keyPairOf({ uid: '', kid, x, d });
}

export function generateKeys(count: number): AgentKeyPair[] {
  return Array.from({ length: count }, () => benchKeyPair());
}

export function storedAgent(key: AgentKeyPair, uid: string): StoredAgent {
  const d = key.privateKey.export({ format: 'jwk' }).d;
  if (!d) throw new Error('Ed25519 private key exported without d');
  return { uid, kid: key.kid, x: key.publicJwk.x, d };
}

/** The key pair back from its stored form (the load generator imports each one on first use). */
export function keyPairOf(agent: StoredAgent): AgentKeyPair {
  const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: agent.x, d: agent.d }, format: 'jwk' });
  return { privateKey, kid: agent.kid, publicJwk: { kty: 'OKP', crv: 'Ed25519', x: agent.x, kid: agent.kid } };
}

/** A POST /register exactly as `vestauth agent init` sends it: tag "null", no Signature-Agent. */
export function registerRequest(key: AgentKeyPair, authority: string): { headers: Record<string, string>; body: string } {
  return {
    headers: {
      host: authority,
      'content-type': 'application/json',
      ...signatureHeaders(key, { authority, tag: 'null' }),
    },
    body: JSON.stringify({ public_jwk: key.publicJwk }),
  };
}

/**
 * Registers every key over HTTP, `concurrency` at a time, and returns the
 * agents with the uid the server gave them. Both servers answer with
 * `agent-<24 hex>`; the reference stores it without the prefix but its
 * agent hosts use the prefixed form, like ours.
 */
export async function seedAgents(
  port: number,
  authority: string,
  keys: AgentKeyPair[],
  concurrency: number,
  onProgress: (done: number) => void,
): Promise<StoredAgent[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const agents: StoredAgent[] = new Array<StoredAgent>(keys.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const index = next++;
      const key = keys[index];
      const { headers, body } = registerRequest(key, authority);
      const res = await send(agent, port, 'POST', '/register', headers, body);
      const uid = res.status === 200 ? uidOf(res.body) : undefined;
      if (!uid) throw new Error(`POST /register on port ${port} answered ${res.status}: ${res.body.slice(0, 300)}`);
      agents[index] = storedAgent(key, uid);
      if (++done % 1000 === 0) onProgress(done);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
  } finally {
    agent.destroy();
  }
  return agents;
}

function uidOf(body: string): string | undefined {
  const parsed: unknown = JSON.parse(body);
  if (typeof parsed !== 'object' || parsed === null || !('uid' in parsed)) return undefined;
  return typeof parsed.uid === 'string' && UID.test(parsed.uid) ? parsed.uid : undefined;
}

export interface SimpleResponse {
  status: number;
  body: string;
}

/** One request to 127.0.0.1:<port> with an explicit Host (agent hosts need not resolve). */
export function send(
  agent: Agent | undefined,
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
  timeoutMs = 30_000,
): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
