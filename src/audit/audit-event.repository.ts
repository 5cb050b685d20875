import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AuditEntry, NO_REQUEST } from './audit-entry';

const COLUMNS = [
  'event',
  'outcome',
  'error_code',
  'agent_uid',
  'kid',
  'method',
  'path',
  'authority',
  'ip',
  'user_agent',
  'request_id',
  'detail',
] as const;

@Injectable()
export class AuditEventRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Appends events in one statement (one round trip for a whole group
   * commit batch). Returns their ids in input order.
   */
  async append(entries: readonly AuditEntry[], manager?: EntityManager): Promise<string[]> {
    if (entries.length === 0) return [];
    const values: unknown[] = [];
    const tuples = entries.map((entry) => {
      const row = toRow(entry);
      const placeholders = row.map((value) => {
        values.push(value);
        return `$${values.length}`;
      });
      return `(${placeholders.join(', ')})`;
    });
    const rows: Array<{ id: string }> = await (manager ?? this.dataSource).query(
      `INSERT INTO audit_events (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')} RETURNING id`,
      values,
    );
    return rows.map((r) => String(r.id));
  }
}

function toRow(entry: AuditEntry): unknown[] {
  const ctx = entry.context ?? NO_REQUEST;
  return [
    entry.event,
    entry.outcome,
    entry.errorCode ?? null,
    entry.agentUid ?? null,
    entry.kid ?? null,
    ctx.method,
    ctx.path,
    ctx.authority,
    ctx.ip,
    ctx.userAgent,
    ctx.requestId,
    JSON.stringify(entry.detail ?? {}),
  ];
}
