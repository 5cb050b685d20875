import { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { fail } from '../common/errors/domain-error';
import { AuditEventRepository, AuditFilter } from './audit-event.repository';
import { AuditEventView, AuditPage, AuditQueryDto, AuditSummary, AuditSummaryQueryDto } from './dto/audit-query.dto';

const CSV_BATCH = 1000;
const CSV_COLUMNS: Array<keyof AuditEventView> = [
  'id', 'occurred_at', 'event', 'outcome', 'error_code', 'agent_uid', 'kid', 'method', 'path', 'authority', 'ip', 'user_agent', 'request_id', 'detail',
];

/** Admin reads of the audit trail: keyset pages, CSV export, summary. */
@Injectable()
export class AuditQueryService {
  constructor(private readonly events: AuditEventRepository) {}

  async page(query: AuditQueryDto): Promise<AuditPage> {
    const rows = await this.events.search(toFilter(query), query.limit + 1);
    const events = rows.slice(0, query.limit);
    const more = rows.length > query.limit;
    return { events, next_cursor: more ? encodeCursor(events[events.length - 1].id) : null };
  }

  /**
   * The whole filtered range as CSV, read in keyset batches: memory stays flat for any range.
   * The first batch is read before the stream is returned, so that a failure there (the
   * database unavailable, …) rejects this promise and is answered like any other error,
   * before the response starts; a later one fails the stream (see csv-export.ts).
   */
  async csv(query: AuditQueryDto): Promise<Readable> {
    const filter = toFilter(query);
    const events = this.events;
    let pending: AuditEventView[] | undefined = await events.search(filter, CSV_BATCH);
    let header = true;
    let done = false;
    return new Readable({
      async read() {
        try {
          if (done) return void this.push(null);
          const rows = pending ?? (await events.search(filter, CSV_BATCH));
          pending = undefined;
          const lines = rows.map(csvLine);
          if (header) lines.unshift(CSV_COLUMNS.join(','));
          header = false;
          if (rows.length < CSV_BATCH) done = true;
          else filter.beforeId = rows[rows.length - 1].id;
          this.push(lines.length > 0 ? `${lines.join('\n')}\n` : '');
          if (done) this.push(null);
        } catch (error) {
          this.destroy(error as Error);
        }
      },
    });
  }

  async summary(query: AuditSummaryQueryDto): Promise<AuditSummary> {
    const from = query.from ? new Date(query.from) : undefined;
    const to = query.to ? new Date(query.to) : undefined;
    const { groups, topFailing } = await this.events.summary(from, to);
    const summary: AuditSummary = {
      from: from?.toISOString() ?? null,
      to: to?.toISOString() ?? null,
      total: 0,
      by_event: {},
      by_outcome: {},
      by_error_code: {},
      top_failing_agents: topFailing,
    };
    for (const g of groups) {
      summary.total += g.count;
      summary.by_event[g.event] = (summary.by_event[g.event] ?? 0) + g.count;
      summary.by_outcome[g.outcome] = (summary.by_outcome[g.outcome] ?? 0) + g.count;
      if (g.error_code) summary.by_error_code[g.error_code] = (summary.by_error_code[g.error_code] ?? 0) + g.count;
    }
    return summary;
  }
}

/** The repository filter of an admin query (also used by scripts/bench-audit.ts to EXPLAIN the same query). */
export function toFilter(query: AuditQueryDto): AuditFilter {
  return {
    agentUid: query.agent_uid,
    event: query.event,
    outcome: query.outcome,
    errorCode: query.error_code,
    from: query.from ? new Date(query.from) : undefined,
    to: query.to ? new Date(query.to) : undefined,
    beforeId: query.cursor ? decodeCursor(query.cursor) : undefined,
  };
}

export function encodeCursor(id: string): string {
  return Buffer.from(`e:${id}`, 'utf8').toString('base64url');
}

const MAX_EVENT_ID = 2n ** 63n - 1n;

export function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^e:(\d{1,19})$/.exec(text);
  // 19 digits still overflow bigint: PostgreSQL would refuse the parameter with a 500.
  if (!match || BigInt(match[1]) > MAX_EVENT_ID) fail('VALIDATION_FAILED', 'cursor is invalid');
  return match[1];
}

/** RFC 4180 quoting; a leading = + - @ is neutralized so a spreadsheet never runs it as a formula. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvLine(row: AuditEventView): string {
  return CSV_COLUMNS.map((c) => csvField(row[c])).join(',');
}
