import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, fail } from '../common/errors/domain-error';
import { AgentRepository } from '../agents/agent.repository';
import { PublicKeyRepository } from '../agents/public-key.repository';
import type { AgentStatus } from '../agents/entities/agent.entity';
import type { AdminActor } from '../audit/audit-entry';
import { AuditService } from '../audit/audit.service';
import { AuditEventRepository } from '../audit/audit-event.repository';
import { KeyInvalidation } from '../verification/key-invalidation';
import { AgentDetail, AgentKeyView, AgentListQueryDto, AgentListResponse, AgentView } from './dto/agent-admin.dto';

/** Admin view and control of agents: list, inspect, disable, enable, revoke a key. */
@Injectable()
export class AgentAdminService {
  private readonly logger = new Logger(AgentAdminService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly agents: AgentRepository,
    private readonly keys: PublicKeyRepository,
    private readonly audit: AuditService,
    private readonly events: AuditEventRepository,
    private readonly invalidation: KeyInvalidation,
  ) {}

  async list(admin: AdminActor, query: AgentListQueryDto): Promise<AgentListResponse> {
    const rows = await this.agents.list({ status: query.status, afterUid: query.cursor }, query.limit + 1);
    const agents = rows.slice(0, query.limit).map((r) => ({
      uid: r.uid,
      status: r.status,
      created_at: new Date(r.created_at).toISOString(),
      disabled_at: r.disabled_at ? new Date(r.disabled_at).toISOString() : null,
      active_keys: r.active_keys,
    }));
    await this.recordQuery(admin, { query: 'agents', returned: agents.length });
    return { agents, next_cursor: rows.length > query.limit ? agents[agents.length - 1].uid : null };
  }

  async detail(admin: AdminActor, uid: string): Promise<AgentDetail> {
    const agent = await this.agents.findByUid(uid);
    if (!agent) fail('UNKNOWN_AGENT', 'unknown agent');
    const keys = await this.keys.findByAgent(uid);
    const events = await this.events.latestForAgent(uid, 20);
    await this.recordQuery(admin, { query: 'agent', agent: uid });
    return {
      agent: {
        uid: agent.uid,
        status: agent.status,
        created_at: agent.createdAt.toISOString(),
        disabled_at: agent.disabledAt?.toISOString() ?? null,
        active_keys: keys.filter((k) => k.status === 'active').length,
      },
      keys: keys.map((k) => ({
        kid: k.kid,
        status: k.status,
        created_at: k.createdAt.toISOString(),
        revoked_at: k.revokedAt?.toISOString() ?? null,
        revoked_reason: k.revokedReason,
        public_jwk: { ...k.jwk },
      })),
      events,
    };
  }

  /** Disable or enable: takes effect at once here, within the key cache bound elsewhere. */
  async setStatus(admin: AdminActor, uid: string, status: AgentStatus): Promise<AgentView> {
    const event = status === 'disabled' ? 'disable' : 'enable';
    await this.dataSource.transaction(async (manager) => {
      const agent = await this.agents.lockByUid(manager, uid);
      if (!agent) fail('UNKNOWN_AGENT', 'unknown agent');
      if (agent.status !== status) await this.agents.setStatus(manager, uid, status);
      await this.audit.recordIn(manager, { event, outcome: 'success', agentUid: uid, context: admin.context, detail: { admin: admin.uid, changed: agent.status !== status } });
    });
    this.invalidation.agentChanged(uid);
    this.logger.log(`${admin.uid} set ${uid} ${status}`);
    const agent = await this.agents.findByUid(uid);
    return {
      uid,
      status: agent!.status,
      created_at: agent!.createdAt.toISOString(),
      disabled_at: agent!.disabledAt?.toISOString() ?? null,
      active_keys: (await this.keys.findByAgent(uid)).filter((k) => k.status === 'active').length,
    };
  }

  async revoke(admin: AdminActor, uid: string, kid: string, reason: string): Promise<AgentKeyView> {
    await this.dataSource.transaction(async (manager) => {
      const key = await this.keys.findByKid(kid, manager);
      if (!key || key.agentUid !== uid) throw new DomainError('NOT_FOUND', 'unknown key for this agent');
      const revoked = await this.keys.revokeIfActive(manager, kid, reason);
      await this.audit.recordIn(manager, { event: 'revoke', outcome: 'success', agentUid: uid, kid, context: admin.context, detail: { admin: admin.uid, reason, changed: revoked } });
    });
    this.invalidation.keyChanged(kid, uid);
    this.logger.log(`${admin.uid} revoked ${uid} kid=${kid}`);
    const key = (await this.keys.findByKid(kid))!;
    return {
      kid,
      status: key.status,
      created_at: key.createdAt.toISOString(),
      revoked_at: key.revokedAt?.toISOString() ?? null,
      revoked_reason: key.revokedReason,
      public_jwk: { ...key.jwk },
    };
  }

  private recordQuery(admin: AdminActor, detail: Record<string, unknown>): Promise<void> {
    return this.audit.record({ event: 'admin_query', outcome: 'success', agentUid: actingAgent(admin), kid: admin.kid, context: admin.context, detail: { ...detail, admin: admin.uid } });
  }
}

/** agent_uid names the admin when it is an agent; the CLI operator is in detail.admin only. */
function actingAgent(admin: AdminActor): string | null {
  return admin.uid.startsWith('agent-') ? admin.uid : null;
}
