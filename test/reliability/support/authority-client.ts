import { AgentKeyPair, agentHeaders, agentKeyPair, RegisteredAgent, signatureHeaders } from '../../factories/agent.factory';
import { describeReply, Reply, send } from './http-client';

const DIRECTORY = '/.well-known/http-message-signatures-directory';

/**
 * The calls vestauth makes, against one service process, for one public
 * authority (several processes may share it). Signing comes from
 * test/factories/agent.factory.ts, so the wire format is vestauth's.
 */
export class AuthorityClient {
  constructor(
    readonly port: number,
    /** host[:port] of PUBLIC_URL: the Host header and the signed @authority. */
    readonly authority: string,
  ) {}

  /** POST /register as `vestauth agent init` signs it (tag "null", no Signature-Agent). */
  register(key: AgentKeyPair = agentKeyPair()): Promise<Reply> {
    return send(this.port, {
      method: 'POST',
      path: '/register',
      host: this.authority,
      headers: signatureHeaders(key, { authority: this.authority, tag: 'null' }),
      json: { public_jwk: key.publicJwk },
    });
  }

  /** Registers and fails unless the service says 200. */
  async registered(key: AgentKeyPair = agentKeyPair()): Promise<RegisteredAgent> {
    const reply = await this.register(key);
    if (reply.status !== 200) throw new Error(`registration failed: ${describeReply(reply)} ${JSON.stringify(reply.body)}`);
    return this.agentOf(key, reply);
  }

  /** The agent a successful registration reply names. */
  agentOf(key: AgentKeyPair, reply: Reply): RegisteredAgent {
    const uid = (reply.body as { uid: string }).uid;
    return { ...key, uid, agentUrl: `http://${uid}.${this.authority}` };
  }

  /** /whoami with a fresh signature, or with the given (possibly already used) headers. */
  whoami(agent: RegisteredAgent, headers: Record<string, string> = this.signed(agent), method: 'GET' | 'POST' = 'GET'): Promise<Reply> {
    return send(this.port, { method, path: '/whoami', host: this.authority, headers });
  }

  /** POST /rotate to `next`, signed by the agent's current key. */
  rotate(agent: RegisteredAgent, next: AgentKeyPair): Promise<Reply> {
    return send(this.port, { method: 'POST', path: '/rotate', host: this.authority, headers: this.signed(agent), json: { public_jwk: next.publicJwk } });
  }

  /** A signed POST by `admin` (admin routes: /admin/agents/:uid/disable, .../keys/:kid/revoke). */
  adminPost(admin: RegisteredAgent, path: string, json: unknown = {}): Promise<Reply> {
    return send(this.port, { method: 'POST', path, host: this.authority, headers: this.signed(admin), json });
  }

  directory(uid: string): Promise<Reply> {
    return send(this.port, { path: DIRECTORY, host: `${uid}.${this.authority}` });
  }

  get(path: string): Promise<Reply> {
    return send(this.port, { path, host: this.authority });
  }

  /** Fresh headers for one request by `agent` (a new nonce each time). */
  signed(agent: RegisteredAgent): Record<string, string> {
    return agentHeaders(agent, this.authority);
  }
}
