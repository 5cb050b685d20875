import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { GroupCommit } from '../common/batching/group-commit';
import { isDatabaseUnavailable } from '../common/filters/database-errors';
import { AuditEntry } from './audit-entry';
import { AuditEventRepository } from './audit-event.repository';

/** Writes the audit trail. Every call resolves only once the row is committed. */
@Injectable()
export class AuditService {
  private readonly batch = new GroupCommit<AuditEntry, string>((entries) => this.appendBatch(entries), 256, 2, isDatabaseUnavailable);

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

  /** One bad row must not sink its batch-mates: on a data error, retry them one by one. */
  private async appendBatch(entries: AuditEntry[]): Promise<Array<string | Error>> {
    try {
      return await this.events.append(entries);
    } catch (error) {
      if (entries.length === 1 || isDatabaseUnavailable(error)) throw error;
      const settled = await Promise.allSettled(entries.map((entry) => this.events.append([entry])));
      return settled.map((s) => (s.status === 'fulfilled' ? s.value[0] : toError(s.reason)));
    }
  }
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
