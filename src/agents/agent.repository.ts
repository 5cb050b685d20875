import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { Agent, AgentStatus } from './entities/agent.entity';

@Injectable()
export class AgentRepository {
  constructor(@InjectRepository(Agent) private readonly agents: Repository<Agent>) {}

  findByUid(uid: string): Promise<Agent | null> {
    return this.agents.findOneBy({ uid });
  }

  async insert(manager: EntityManager, uid: string): Promise<void> {
    await manager.insert(Agent, { uid, status: 'active' });
  }

  /** Locks the agent row for the rest of the transaction (rotation, status changes). */
  lockByUid(manager: EntityManager, uid: string): Promise<Agent | null> {
    return manager.getRepository(Agent).findOne({ where: { uid }, lock: { mode: 'pessimistic_write' } });
  }

  async setStatus(manager: EntityManager, uid: string, status: AgentStatus): Promise<void> {
    await manager.update(Agent, { uid }, { status, disabledAt: status === 'disabled' ? new Date() : null });
  }
}
