import type { RemoteKeyResolverOptions } from './remote-key-resolver';

/**
 * Everything the Verification module needs to know, whether it runs inside
 * the authority (built from AppConfig) or inside another service
 * (`VerificationModule.forRoot`).
 */
export class VerificationOptions {
  clockSkewSeconds: number;
  maxLifetimeSeconds: number;
  requireNonce: boolean;
  tag: string;
  supportedAlgorithms: readonly string[];
  strictSignatureAgentCoverage: boolean;
  /** host[:port] values (lowercase, default port omitted) a request may be addressed to. */
  acceptedAuthorities: readonly string[];
  /**
   * The authority whose agents are resolved locally (`<uid>.<localAuthority>`),
   * with its scheme; undefined in a service without the agents database.
   */
  local?: { scheme: 'http' | 'https'; authority: string };
  /**
   * host[:port] of the authority whose agents these are (PUBLIC_URL's, or
   * forRoot's authorityUrl): only its agents can be admins, since a uid is
   * unique only within its authority.
   */
  homeAuthority?: string;
  /** The home authority's scheme: a Signature-Agent without scheme naming one of its agent hosts is read with it. */
  homeScheme?: 'http' | 'https';
  /** Host patterns (`*.example.com`, `example.com`, optional :port) resolved through their directory. */
  trustedAgentDomains: readonly string[];
  /**
   * ttlMs bounds staleness without change notifications; notifiedTtlMs applies while they are live (authority only).
   * importedKeys bounds the imported KeyObjects of local keys (each holds OpenSSL memory outside the V8 heap).
   */
  keyCache: { ttlMs: number; notifiedTtlMs?: number; maxEntries: number; importedKeys: number };
  remote: RemoteKeyResolverOptions;
  adminAgentUids: ReadonlySet<string>;
}

/** Whether `authority` (host[:port]) matches a trusted pattern; `*.` stands for exactly one label. */
export function matchesTrustedDomain(authority: string, patterns: readonly string[]): boolean {
  const candidate = authority.toLowerCase();
  return patterns.some((pattern) => {
    const p = pattern.toLowerCase();
    if (!p.startsWith('*.')) return candidate === p;
    const suffix = p.slice(1);
    if (!candidate.endsWith(suffix)) return false;
    const label = candidate.slice(0, candidate.length - suffix.length);
    return /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(label);
  });
}
