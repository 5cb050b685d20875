import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AuditEntry, NO_REQUEST } from './audit-entry';
import type { AuditEventView } from './dto/audit-query.dto';

/** The columns an appended event fills, in the order of `auditRowOf`. */
export const AUDIT_COLUMNS = [
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

const VIEW_COLUMNS = `id::text AS id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at,
  event, outcome, error_code, agent_uid, kid, method, path, authority, ip, user_agent, request_id, detail`;

export interface AuditFilter {
  agentUid?: string;
  event?: string;
  outcome?: string;
  errorCode?: string;
  from?: Date;
  to?: Date;
  /** Keyset: events strictly older than this event (by occurred_at, then id). */
  beforeId?: string;
}

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
      const row = auditRowOf(entry);
      const placeholders = row.map((value) => {
        values.push(value);
        return `$${values.length}`;
      });
      return `(${placeholders.join(', ')})`;
    });
    const rows: Array<{ id: string }> = await (manager ?? this.dataSource).query(
      `INSERT INTO audit_events (${AUDIT_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')} RETURNING id`,
      values,
    );
    return rows.map((r) => String(r.id));
  }

  /**
   * Newest first, keyset-paginated on (occurred_at, id): each filter has an
   * index that starts with it and continues with (occurred_at, id), so a
   * page is one index range scan however deep the cursor.
   */
  search(filter: AuditFilter, limit: number): Promise<AuditEventView[]> {
    const { where, params } = whereClause(filter);
    params.push(limit);
    return this.dataSource.query(
      // Qualified: bare names would sort by the text aliases of VIEW_COLUMNS, which no index serves.
      `SELECT ${VIEW_COLUMNS} FROM audit_events ${where} ORDER BY audit_events.occurred_at DESC, audit_events.id DESC LIMIT $${params.length}`,
      params,
    );
  }

  /** Counts by event, outcome and error code, and the agents with most failures, in [from, to). */
  async summary(from?: Date, to?: Date): Promise<{
    groups: Array<{ event: string; outcome: string; error_code: string | null; count: number }>;
    topFailing: Array<{ agent_uid: string; failures: number }>;
  }> {
    const { where, params } = whereClause({ from, to });
    const groups = await this.dataSource.query(
      `SELECT event, outcome, error_code, count(*)::int AS count FROM audit_events ${where} GROUP BY event, outcome, error_code`,
      params,
    );
    const failing = whereClause({ from, to, outcome: 'failure' });
    const topFailing = await this.dataSource.query(
      `SELECT agent_uid, count(*)::int AS failures FROM audit_events ${failing.where} AND agent_uid IS NOT NULL
        GROUP BY agent_uid ORDER BY failures DESC, agent_uid LIMIT 10`,
      failing.params,
    );
    return { groups, topFailing };
  }

  /** The last events of one agent (admin agent view). */
  latestForAgent(uid: string, limit: number): Promise<AuditEventView[]> {
    return this.search({ agentUid: uid }, limit);
  }
}

function whereClause(filter: AuditFilter): { where: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    conditions.push(sql(`$${params.length}`));
  };
  if (filter.agentUid) add((p) => `agent_uid = ${p}`, filter.agentUid);
  if (filter.event) add((p) => `event = ${p}`, filter.event);
  if (filter.outcome) add((p) => `outcome = ${p}`, filter.outcome);
  if (filter.errorCode) add((p) => `error_code = ${p}`, filter.errorCode);
  if (filter.from) add((p) => `occurred_at >= ${p}`, filter.from.toISOString());
  if (filter.to) add((p) => `occurred_at < ${p}`, filter.to.toISOString());
  if (filter.beforeId) {
    add((p) => `(occurred_at, id) < ((SELECT occurred_at FROM audit_events WHERE id = ${p}), ${p})`, filter.beforeId);
  }
  return { where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : 'WHERE true', params };
}

/** The values of an event, clipped to their columns, in AUDIT_COLUMNS order. */
export function auditRowOf(entry: AuditEntry): unknown[] {
  const ctx = entry.context ?? NO_REQUEST;
  // Values may come from a refused request: clip them to the columns rather
  // than lose the event to a "value too long" error.
  return [
    entry.event,
    entry.outcome,
    clip(entry.errorCode, 40),
    clip(entry.agentUid, 30),
    clip(entry.kid, 64),
    clip(ctx.method, 10),
    clip(ctx.path, 512),
    clip(ctx.authority, 260),
    clip(ctx.ip, 64),
    clip(ctx.userAgent, 256),
    clip(ctx.requestId, 64),
    JSON.stringify(entry.detail ?? {}),
  ];
}

function clip(value: string | null | undefined, max: number): string | null {
  return value ? value.slice(0, max) : null;
}
