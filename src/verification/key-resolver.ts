import type { KeyObject } from 'node:crypto';
import type { SignatureAgentRef } from './core/signature-agent';

/** A public key that may verify a request, with the agent it belongs to. */
export interface ResolvedKey {
  /** The agent uid: the first DNS label of the agent's host (`agent-<24 hex>`). */
  uid: string;
  kid: string;
  /** The public JWK as published (for the handler and /whoami). */
  publicJwk: Record<string, unknown>;
  key: KeyObject;
  /** `<agent origin>/.well-known/http-message-signatures-directory` */
  wellKnownUrl: string;
}

/**
 * Finds the key `keyid` of the agent a request names. Two implementations:
 * local (our own agents, from the database) and remote (agents of trusted
 * foreign authorities, from their published directory). Throws DomainError
 * UNKNOWN_AGENT, UNKNOWN_KEY, REVOKED_KEY or AGENT_DISABLED.
 */
export abstract class KeyResolver {
  abstract resolve(agent: SignatureAgentRef, keyid: string): Promise<ResolvedKey>;
}

export const WELL_KNOWN_DIRECTORY_PATH = '/.well-known/http-message-signatures-directory';
