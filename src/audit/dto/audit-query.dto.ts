import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, Matches, Max, Min } from 'class-validator';
import { AUDIT_EVENTS, type AuditEventType, type AuditOutcome } from '../entities/audit-event.entity';

/** Filters of GET /admin/audit-events (and its CSV form). */
export class AuditQueryDto {
  @IsOptional()
  @Matches(/^agent-[0-9a-f]{24}$/, { message: 'agent_uid must be agent-<24 hex>' })
  agent_uid?: string;

  @IsOptional()
  @IsIn(AUDIT_EVENTS)
  event?: AuditEventType;

  @IsOptional()
  @IsIn(['success', 'failure'])
  outcome?: AuditOutcome;

  @IsOptional()
  @Matches(/^[A-Z_]{1,40}$/, { message: 'error_code must be an error code such as INVALID_SIGNATURE' })
  error_code?: string;

  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit: number = 50;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,40}$/, { message: 'cursor is invalid' })
  cursor?: string;

  @IsOptional()
  @IsIn(['json', 'csv'])
  format?: 'json' | 'csv';
}

export class AuditSummaryQueryDto {
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

export interface AuditEventView {
  id: string;
  occurred_at: string;
  event: string;
  outcome: string;
  error_code: string | null;
  agent_uid: string | null;
  kid: string | null;
  method: string | null;
  path: string | null;
  authority: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  detail: Record<string, unknown>;
}

export interface AuditPage {
  events: AuditEventView[];
  next_cursor: string | null;
}

export interface AuditSummary {
  from: string | null;
  to: string | null;
  total: number;
  by_event: Record<string, number>;
  by_outcome: Record<string, number>;
  by_error_code: Record<string, number>;
  top_failing_agents: Array<{ agent_uid: string; failures: number }>;
}
