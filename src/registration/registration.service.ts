import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, fail } from '../common/errors/domain-error';
import { AgentRepository } from '../agents/agent.repository';
import { KeyWithAgent, PublicKeyRepository } from '../agents/public-key.repository';
import type { StoredPublicJwk } from '../agents/entities/public-key.entity';
import { AdminActor, auditContextOf, RequestAuditContext } from '../audit/audit-entry';
import { AuditService } from '../audit/audit.service';
import { importPublicJwk, jwkThumbprint } from '../verification/core/jwk';
import { KeyInvalidation } from '../verification/key-invalidation';
import { RateLimitService } from '../common/rate-limit/rate-limit.service';
import { GroupCommit } from '../common/batching/group-commit';
import { isDatabaseUnavailable } from '../common/filters/database-errors';
import { NewRegistration, RegistrationRepository } from './registration.repository';
import { SignatureVerifier } from '../verification/signature-verifier';
import { VerificationService } from '../verification/verification.service';
import { LocalKeyResolver } from '../verification/local-key-resolver';
import type { PublicJwkDto } from './dto/public-jwk.dto';
import type { RegisterResponse, RotateResponse } from './dto/register.dto';
import type { AuditSubjectRequest } from './registration-audit.interceptor';

type AuditSubject = NonNullable<AuditSubjectRequest['auditSubject']>;

/**
 * Agent and key lifecycle: registration with proof-of-possession, and
 * rotation. Uniqueness is decided by the database (primary key on kid,
 * one active key per agent), never by a check-then-insert.
 */
@Injectable()
export class RegistrationService {
  private readonly logger = new Logger(RegistrationService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly agents: AgentRepository,
    private readonly keys: PublicKeyRepository,
    private readonly audit: AuditService,
    private readonly signatures: SignatureVerifier,
    private readonly verification: VerificationService,
    private readonly invalidation: KeyInvalidation,
    private readonly rateLimit: RateLimitService,
    private readonly registrations: RegistrationRepository,
    private readonly localKeys: LocalKeyResolver,
  ) {}

  /**
   * New registrations of concurrent requests share one statement (group
   * commit): each resolves true when its key was inserted now. A kid twice in
   * one batch can only be new once, so later duplicates wait for the next batch.
   */
  private readonly newAgents = new GroupCommit<NewRegistration, boolean>(
    async (rows) => {
      const created = await this.registrations.insertNew(dedupeByKid(rows));
      const claimed = new Set<string>();
      return rows.map((r) => {
        if (!created.has(r.jwk.kid) || claimed.has(r.jwk.kid)) return false;
        claimed.add(r.jwk.kid);
        return true;
      });
    },
    128,
    2,
    isDatabaseUnavailable,
  );

  /**
   * Spends the client's registration budget (429 RATE_LIMITED when it is
   * used up): before anything else, the body included, so that refused
   * attempts, each of which leaves an audit row, are limited too. Called by
   * the route's interceptor and the hot route, once per register or rotate.
   */
  admit(req: AuditSubjectRequest): void {
    this.rateLimit.spendRegistration(req.ip ?? 'unknown');
  }

  async register(req: AuditSubjectRequest, body: PublicJwkDto): Promise<RegisterResponse> {
    const jwk = canonicalJwk(body);
    const subject: AuditSubject = { kid: jwk.kid };
    req.auditSubject = subject;
    await this.provePossession(req, jwk);
    return this.upsert(jwk, auditContextOf(req), {}, subject);
  }

  /**
   * Registers a key the operator CLI generated on this machine: there is no
   * signed request to prove possession with, the operator's access to the
   * database is the authority. Recorded as such in the audit trail.
   */
  registerByOperator(actor: AdminActor, jwk: StoredPublicJwk): Promise<RegisterResponse> {
    return this.upsert(jwk, actor.context, { via: 'operator-cli', admin: actor.uid }, {});
  }

  /** `subject` learns the agent when the key turns out to be known: a refusal is then recorded against it. */
  private async upsert(jwk: StoredPublicJwk, context: RequestAuditContext, detail: Record<string, unknown>, subject: AuditSubject): Promise<RegisterResponse> {
    const uid = newAgentUid();
    const started = this.localKeys.writeStarted();
    if (await this.newAgents.submit({ uid, jwk, context, detail: { is_new: true, ...detail } })) {
      // Agents usually call right after registering: their key is cached already (write-through).
      this.localKeys.cacheRegistered(jwk.kid, uid, jwk.x, started);
      this.logger.log(`Registered ${uid} kid=${jwk.kid}`);
      return { uid, kid: jwk.kid, public_jwk: jwk, is_new: true };
    }
    // The key exists (registered before, or by a concurrent request that won): its agent comes back.
    const existing = await this.keys.findWithAgent(jwk.kid);
    if (!existing) throw new Error(`key ${jwk.kid} neither inserted nor found`);
    return this.registered(existing, jwk, context, subject);
  }

  async rotate(req: AuditSubjectRequest, body: PublicJwkDto): Promise<RotateResponse> {
    const next = canonicalJwk(body);
    const subject: AuditSubject = {};
    req.auditSubject = subject;
    const caller = await this.verification.authenticate(req, { localOnly: true }, subject);
    subject.kid = caller.kid;
    if (next.kid === caller.kid) fail('KEY_CONFLICT', 'the new key is the current key');
    await this.dataSource.transaction(async (manager) => {
      // Checked again under the lock: an agent disabled since its request was authenticated rotates nothing.
      const agent = await this.agents.lockByUid(manager, caller.uid);
      if (agent?.status !== 'active') fail('AGENT_DISABLED', 'agent is disabled');
      if (!(await this.keys.revokeIfActive(manager, caller.kid, 'rotated'))) fail('REVOKED_KEY', 'key has been revoked');
      if (!(await this.keys.insertIfAbsent(manager, caller.uid, next))) fail('KEY_CONFLICT', 'key is registered already');
      await this.audit.recordIn(manager, {
        event: 'rotate',
        outcome: 'success',
        agentUid: caller.uid,
        kid: next.kid,
        context: auditContextOf(req),
        detail: { old_kid: caller.kid, new_kid: next.kid },
      });
    });
    this.invalidation.keyChanged(caller.kid, caller.uid);
    this.logger.log(`Rotated ${caller.uid} kid=${caller.kid} -> ${next.kid}`);
    return { uid: caller.uid, kid: next.kid, public_jwk: next };
  }

  /** The request is signed by the very key it registers (steps 1-4, 7, 8 of the shared core). */
  private async provePossession(req: AuditSubjectRequest, jwk: StoredPublicJwk): Promise<void> {
    const inspected = this.signatures.inspect(req, { requiredTag: undefined });
    if (inspected.keyid !== jwk.kid) fail('KEY_ID_MISMATCH', 'keyid is not the thumbprint of public_jwk');
    this.signatures.verifySignature(req, inspected, importPublicJwk(jwk));
    await this.signatures.consumeNonce(jwk.kid, inspected);
  }

  /** The key exists: the same agent comes back, unless the key was revoked or the agent disabled. */
  private async registered(current: KeyWithAgent, jwk: StoredPublicJwk, context: RequestAuditContext, subject: AuditSubject): Promise<RegisterResponse> {
    subject.uid = current.agentUid;
    if (current.keyStatus !== 'active') fail('KEY_CONFLICT', 'key was revoked and cannot be registered again');
    if (current.agentStatus !== 'active') fail('AGENT_DISABLED', 'agent is disabled');
    const uid = current.agentUid;
    await this.audit.record({ event: 'register', outcome: 'success', agentUid: uid, kid: jwk.kid, context, detail: { is_new: false } });
    return { uid, kid: jwk.kid, public_jwk: current.jwk, is_new: false };
  }
}

function dedupeByKid(rows: readonly NewRegistration[]): NewRegistration[] {
  const seen = new Set<string>();
  return rows.filter((r) => !seen.has(r.jwk.kid) && (seen.add(r.jwk.kid), true));
}

/** The JWK we store and publish: `{kty, crv, x, kid}`, kid computed here; a different client kid is refused. */
export function canonicalJwk(body: PublicJwkDto): StoredPublicJwk {
  const kid = jwkThumbprint({ kty: body.kty, crv: body.crv, x: body.x });
  if (body.kid !== undefined && body.kid !== kid) {
    throw new DomainError('KEY_ID_MISMATCH', 'public_jwk.kid is not the RFC 7638 thumbprint of the key');
  }
  return { kty: 'OKP', crv: 'Ed25519', x: body.x, kid };
}

/** `agent-` + 24 lowercase hex (96 random bits), as vestauth issues them. */
export function newAgentUid(): string {
  return `agent-${randomBytes(12).toString('hex')}`;
}
