import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { GroupCommit } from '../common/batching/group-commit';
import { AuditEntry } from './audit-entry';
import { AuditEventRepository } from './audit-event.repository';

/** Writes the audit trail. Every call resolves only once the row is committed. */
@Injectable()
export class AuditService {
  private readonly batch = new GroupCommit<AuditEntry, string>((entries) => this.events.append(entries));

  constructor(private readonly events: AuditEventRepository) {}

  /** Inside the caller's transaction: the event commits (or not) with the change it records. */
  async recordIn(manager: EntityManager, entry: AuditEntry): Promise<void> {
    await this.events.append([entry], manager);
  }

  /**
   * On its own, durable when the promise resolves. Concurrent calls share
   * one INSERT (group commit), so a burst of verifications costs a few
   * round trips, not one each.
   */
  async record(entry: AuditEntry): Promise<void> {
    await this.batch.submit(entry);
  }
}
