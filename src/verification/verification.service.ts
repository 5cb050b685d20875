import { Injectable, Logger } from '@nestjs/common';
import type { Request } from 'express';
import { DomainError, fail } from '../common/errors/domain-error';
import { auditContextOf } from '../audit/audit-entry';
import { RateLimitedError, RateLimitService } from '../common/rate-limit/rate-limit.service';
import { parseSignatureAgent, coversSignatureAgent, SignatureAgentRef, withScheme } from './core/signature-agent';
import { normalizeAuthority } from './request-view';
import { agentUidFromHost } from './core/agent-host';
import { KeyResolver, ResolvedKey } from './key-resolver';
import { LocalKeyResolver } from './local-key-resolver';
import { InspectedSignature, SignatureVerifier } from './signature-verifier';
import { VerificationAuditSink } from './verification-audit';
import { matchesTrustedDomain, VerificationOptions } from './verification-options';
import { SignedAgentOptions, VerifiedAgent } from './verified-agent';

export interface AuthenticateOptions extends SignedAgentOptions {
  /** Only our own agents (rotation): a foreign agent is untrusted here. */
  localOnly?: boolean;
}

/** What is known about a request so far, for the audit row of a failure. */
export interface VerificationAttempt {
  uid?: string;
  kid?: string;
  coveredComponents?: string[];
  /** host[:port] of a foreign agent (trusted domain), which the audit row names beside the uid. */
  agentHost?: string;
  /** The failure is already in the audit trail (written with the nonce). */
  audited?: boolean;
}

/**
 * DESIGN.md section 4, in order. `authenticate` decides; `verify` decides
 * and records the outcome (the guard's entry point).
 */
@Injectable()
export class VerificationService {
  private readonly logger = new Logger(VerificationService.name);

  constructor(
    private readonly options: VerificationOptions,
    private readonly signatures: SignatureVerifier,
    private readonly local: LocalKeyResolver | null,
    private readonly remote: KeyResolver | null,
    private readonly audit: VerificationAuditSink,
    private readonly rateLimit: RateLimitService | null = null,
  ) {}

  async verify(req: Request, policy: SignedAgentOptions = {}): Promise<VerifiedAgent> {
    const attempt: VerificationAttempt = {};
    const ip = clientIp(req);
    // A client that keeps failing is refused before any work; not audited one
    // by one, so a flood cannot turn into a flood of writes. Per client IP
    // only: the agent a failing request names is unproven (RateLimitService).
    this.rateLimit?.checkFailures(ip);
    try {
      const { agent, inspected, home } = await this.verifySignature(req, policy, attempt);
      // ADMIN_AGENT_UIDS names our own agents: a uid is unique only within its
      // authority, so a foreign agent with the same uid is not an admin.
      if (policy.admin && !(home && this.options.adminAgentUids.has(agent.uid))) {
        // Spent all the same: a verified signature refused here must not be usable once more on another route
        // (vestauth signs @authority only, so the same headers would pass POST /rotate).
        await this.signatures.consumeNonce(agent.kid, inspected);
        fail('FORBIDDEN', 'agent is not an administrator');
      }
      // Step 8 and 9 together: nonce and audit row in one write (REPLAYED_NONCE recorded by it too).
      const success = {
        event: 'verify' as const,
        outcome: 'success' as const,
        agentUid: agent.uid,
        kid: agent.kid,
        context: auditContextOf(req),
        // A foreign agent's uid may equal one of ours: its row names its host too.
        detail: { components: agent.coveredComponents, ...(home ? {} : { agent_host: attempt.agentHost }) },
      };
      const fresh = await this.signatures.consumeNonceAndRecord(agent.kid, inspected, success, this.audit);
      if (!fresh) {
        attempt.audited = true;
        fail('REPLAYED_NONCE', 'signature has already been used');
      }
      return agent;
    } catch (error) {
      if (error instanceof DomainError) {
        // A 429 (an in-memory nonce store's share used up) is not a failed verification: charging it would lock out the IP's other agents.
        if (!(error instanceof RateLimitedError)) this.rateLimit?.recordFailure(ip);
        if (!attempt.audited) await this.recordFailure(req, error, attempt);
      }
      throw error;
    }
  }

  /** Steps 1 to 8; throws a DomainError naming the first check that failed. */
  async authenticate(req: Request, policy: AuthenticateOptions, attempt: VerificationAttempt = {}): Promise<VerifiedAgent> {
    const { agent, inspected } = await this.verifySignature(req, policy, attempt);
    await this.signatures.consumeNonce(agent.kid, inspected);
    return agent;
  }

  /** Steps 1 to 7: everything but spending the nonce. */
  private async verifySignature(
    req: Request,
    policy: AuthenticateOptions,
    attempt: VerificationAttempt,
  ): Promise<{ agent: VerifiedAgent; inspected: InspectedSignature; home: boolean }> {
    const inspected = this.signatures.inspect(req, {
      requiredTag: this.options.tag,
      requiredComponents: policy.components,
    });
    attempt.kid = inspected.keyid;
    attempt.coveredComponents = inspected.coveredComponents;
    const agentRef = parseSignatureAgent(headerOf(req, 'signature-agent'), inspected.parsed);
    attempt.uid = firstLabel(agentRef.host);
    this.checkSignatureAgentCoverage(inspected, agentRef, policy);
    const { resolved, home } = await this.resolve(agentRef, inspected.keyid, policy.localOnly === true);
    attempt.uid = resolved.uid;
    if (!home) attempt.agentHost = agentRef.authority.toLowerCase();
    this.signatures.verifySignature(req, inspected, resolved.key);
    const agent = {
      uid: resolved.uid,
      kid: resolved.kid,
      public_jwk: resolved.publicJwk,
      well_known_url: resolved.wellKnownUrl,
      coveredComponents: inspected.coveredComponents,
    };
    return { agent, inspected, home };
  }

  /**
   * An older client's Signature-Agent without scheme is read as https
   * (signature-agent.ts); one that names an agent host of the home authority
   * (a service built with forRoot) gets the home authority's scheme, as the
   * authority itself would answer it.
   */
  private withHomeScheme(agent: SignatureAgentRef): SignatureAgentRef {
    const { homeAuthority, homeScheme } = this.options;
    if (agent.schemelessAuthority === undefined || homeAuthority === undefined || homeScheme === undefined) return agent;
    if (agentUidFromHost(normalizeAuthority(agent.schemelessAuthority, homeScheme), homeAuthority) === undefined) return agent;
    return withScheme(agent, homeScheme);
  }

  /**
   * Step 5 and 6: our own agents locally, trusted foreign ones remotely,
   * nobody else. `home`: the agent is one of this authority's own (resolved
   * from our database inside the authority; inside another service, forRoot,
   * an agent host `<uid>.<authority>` of the configured authority).
   */
  private async resolve(named: SignatureAgentRef, keyid: string, localOnly: boolean): Promise<{ resolved: ResolvedKey; home: boolean }> {
    if (this.local?.localUid(named)) return { resolved: await this.local.resolve(named, keyid), home: true };
    const agent = this.withHomeScheme(named);
    // DESIGN.md section 2: only `agent-<24 hex>` is an agent host, under a
    // trusted domain too; any other label would become the uid of whoami.
    const agentHost = firstLabel(agent.host) !== undefined;
    if (!localOnly && this.remote && agentHost && matchesTrustedDomain(agent.authority, this.options.trustedAgentDomains)) {
      const resolved = await this.remote.resolve(agent, keyid);
      return { resolved, home: !this.local && isAgentHostOf(named.authority, resolved.uid, this.options.homeAuthority) };
    }
    fail('UNTRUSTED_SIGNATURE_AGENT', 'untrusted signature agent');
  }

  private checkSignatureAgentCoverage(inspected: InspectedSignature, agent: SignatureAgentRef, policy: SignedAgentOptions): void {
    const strict = policy.strictSignatureAgent ?? this.options.strictSignatureAgentCoverage;
    if (strict && !coversSignatureAgent(inspected.parsed, agent)) {
      fail('MISSING_COMPONENT', 'signature must cover signature-agent');
    }
  }

  private async recordFailure(req: Request, error: DomainError, attempt: VerificationAttempt): Promise<void> {
    const uid = attempt.uid ?? uidFromHeaderLoosely(req);
    this.logger.warn(`Refused ${req.method} ${req.path}: ${error.code}${uid ? ` agent=${uid}` : ''} request_id=${String(req.headers['x-request-id'] ?? '-')}`);
    try {
      await this.audit.record({
        event: 'verify',
        outcome: 'failure',
        errorCode: error.code,
        agentUid: uid ?? null,
        kid: attempt.kid ?? null,
        context: auditContextOf(req),
        detail: {
          ...(attempt.coveredComponents ? { components: attempt.coveredComponents } : {}),
          ...(attempt.agentHost ? { agent_host: attempt.agentHost } : {}),
          ...(error.detail ?? {}),
        },
      });
    } catch (auditError) {
      // The client still gets its 401/403; the operator gets the reason the row is missing.
      this.logger.error(`Could not record a failed verification: ${(auditError as Error).message}`);
    }
  }
}

function clientIp(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

function headerOf(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function firstLabel(host: string): string | undefined {
  const label = host.split('.')[0];
  return /^agent-[0-9a-f]{24}$/.test(label) ? label : undefined;
}

/** A failure before Signature-Agent was parsed is still attributed when the header names an agent host. */
function uidFromHeaderLoosely(req: Request): string | undefined {
  const value = headerOf(req, 'signature-agent');
  const match = value?.slice(0, 600).match(/agent-[0-9a-f]{24}(?=\.)/i);
  return match ? match[0].toLowerCase() : undefined;
}

/** Whether `agentAuthority` (host[:port]) is exactly the agent host `<uid>.<authority>`. */
export function isAgentHostOf(agentAuthority: string, uid: string, authority: string | undefined): boolean {
  return authority !== undefined && agentUidFromHost(agentAuthority, authority) === uid;
}
