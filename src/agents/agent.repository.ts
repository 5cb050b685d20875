import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { Agent, AgentStatus } from './entities/agent.entity';

export interface AgentSummaryRow {
  uid: string;
  status: AgentStatus;
  created_at: Date;
  updated_at: Date;
  disabled_at: Date | null;
  active_keys: number;
}

@Injectable()
export class AgentRepository {
  constructor(@InjectRepository(Agent) private readonly agents: Repository<Agent>) {}

  findByUid(uid: string): Promise<Agent | null> {
    return this.agents.findOneBy({ uid });
  }

  /** Locks the agent row for the rest of the transaction (rotation, status changes). */
  lockByUid(manager: EntityManager, uid: string): Promise<Agent | null> {
    return manager.getRepository(Agent).findOne({ where: { uid }, lock: { mode: 'pessimistic_write' } });
  }

  async setStatus(manager: EntityManager, uid: string, status: AgentStatus): Promise<void> {
    await manager.update(Agent, { uid }, { status, disabledAt: status === 'disabled' ? new Date() : null });
  }

  /** Newest first, keyset-paginated on (created_at, uid), optionally one status. */
  list(filter: { status?: AgentStatus; afterUid?: string }, limit: number): Promise<AgentSummaryRow[]> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (filter.status) {
      params.push(filter.status);
      conditions.push(`status = $${params.length}`);
    }
    if (filter.afterUid) {
      params.push(filter.afterUid);
      conditions.push(`(created_at, uid) < ((SELECT created_at FROM agents WHERE uid = $${params.length}), $${params.length})`);
    }
    params.push(limit);
    return this.agents.query(
      `SELECT uid, status, created_at, updated_at, disabled_at,
              (SELECT count(*)::int FROM public_keys k WHERE k.agent_uid = agents.uid AND k.status = 'active') AS active_keys
         FROM agents ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''}
        ORDER BY created_at DESC, uid DESC LIMIT $${params.length}`,
      params,
    );
  }
}
