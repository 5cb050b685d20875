/** What a handler learns about the agent that signed its request. */
export interface VerifiedAgent {
  uid: string;
  kid: string;
  public_jwk: Record<string, unknown>;
  well_known_url: string;
  /** Covered component names, as signed (e.g. ["@authority"]). */
  coveredComponents: string[];
}

/** Per-route policy set by `@SignedAgent(options)`. */
export interface SignedAgentOptions {
  /** Components required beyond @authority/@target-uri, e.g. ['@method', '@path', 'content-digest']. */
  components?: string[];
  /** Only agents listed in ADMIN_AGENT_UIDS. */
  admin?: boolean;
  /** Require `signature-agent` to be covered when the header is present (overrides the global default). */
  strictSignatureAgent?: boolean;
}
