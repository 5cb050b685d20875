import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, Matches, Max, Min, ValidateBy } from 'class-validator';
import { AUDIT_EVENTS, type AuditEventType, type AuditOutcome } from '../entities/audit-event.entity';

// IsISO8601 also accepts week, ordinal, basic and signed-year forms that
// `new Date()` reads as Invalid Date (which reached the query and answered
// 500) or as another year (-9999-01-01 became 9999). Only the extended
// calendar form, with a zone when there is a time, is taken.
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;
const TIMESTAMP_MESSAGE = { message: '$property must be a timestamp such as 2026-01-01T00:00:00Z' };

// A four-digit year with an offset can still name an instant outside years
// 0001-9999 in UTC (9999-12-31T23:00:00-01:00 is in year 10000): the query
// then got +010000-… from toISOString(), which PostgreSQL refuses ("time
// zone displacement out of range", a 500). Both bounds are checked, so the
// rule does not depend on what IsISO8601 happens to refuse.
const EARLIEST = Date.parse('0001-01-01T00:00:00Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');

/** The instant, in UTC, lies in years 0001-9999 (PostgreSQL timestamptz and Date.toISOString agree there). */
export function isTimestampInRange(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const at = Date.parse(value);
  return Number.isFinite(at) && at >= EARLIEST && at <= LATEST;
}

function IsTimestampInRange(): PropertyDecorator {
  return ValidateBy({
    name: 'isTimestampInRange',
    validator: {
      validate: isTimestampInRange,
      defaultMessage: () => '$property must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z',
    },
  });
}

/** from/to of the audit queries (and of the summary alone). */
export class AuditSummaryQueryDto {
  @ApiPropertyOptional({ format: 'date-time', description: 'Inclusive lower bound of occurred_at (ISO 8601).' })
  @IsTimestampInRange() // listed first, so it runs last: a malformed value gets the format message
  @IsOptional()
  @IsISO8601({ strict: true })
  @Matches(TIMESTAMP, TIMESTAMP_MESSAGE)
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Exclusive upper bound of occurred_at (ISO 8601).' })
  @IsTimestampInRange() // listed first, so it runs last: a malformed value gets the format message
  @IsOptional()
  @IsISO8601({ strict: true })
  @Matches(TIMESTAMP, TIMESTAMP_MESSAGE)
  to?: string;
}

/** Filters of GET /admin/audit-events (and its CSV form). */
export class AuditQueryDto extends AuditSummaryQueryDto {
  @ApiPropertyOptional({ description: 'Events of this agent.', pattern: '^agent-[0-9a-f]{24}$' })
  @IsOptional()
  @Matches(/^agent-[0-9a-f]{24}$/, { message: 'agent_uid must be agent-<24 hex>' })
  agent_uid?: string;

  @ApiPropertyOptional({ enum: AUDIT_EVENTS })
  @IsOptional()
  @IsIn(AUDIT_EVENTS)
  event?: AuditEventType;

  @ApiPropertyOptional({ enum: ['success', 'failure'] })
  @IsOptional()
  @IsIn(['success', 'failure'])
  outcome?: AuditOutcome;

  @ApiPropertyOptional({ description: 'Failures with this error code, e.g. `INVALID_SIGNATURE`.', pattern: '^[A-Z_]{1,40}$' })
  @IsOptional()
  @Matches(/^[A-Z_]{1,40}$/, { message: 'error_code must be an error code such as INVALID_SIGNATURE' })
  error_code?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 500, default: 50, description: 'Page size (JSON only; CSV streams the whole range).' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit: number = 50;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page.' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,40}$/, { message: 'cursor is invalid' })
  cursor?: string;

  @ApiPropertyOptional({ enum: ['json', 'csv'], description: 'Response format; without it, `Accept: text/csv` selects CSV.' })
  @IsOptional()
  @IsIn(['json', 'csv'])
  format?: 'json' | 'csv';
}


const NULLABLE_STRING = { type: 'string', nullable: true } as const;

export class AuditEventView {
  @ApiProperty({ description: 'Event id (a bigint, as a string); increases with time.', example: '1042' })
  id: string;

  @ApiProperty({ format: 'date-time' })
  occurred_at: string;

  @ApiProperty({ enum: AUDIT_EVENTS })
  event: string;

  @ApiProperty({ enum: ['success', 'failure'] })
  outcome: string;

  @ApiProperty({ ...NULLABLE_STRING, description: 'The error code of a failure.' })
  error_code: string | null;

  @ApiProperty(NULLABLE_STRING)
  agent_uid: string | null;

  @ApiProperty(NULLABLE_STRING)
  kid: string | null;

  @ApiProperty(NULLABLE_STRING)
  method: string | null;

  @ApiProperty({ ...NULLABLE_STRING, description: 'Request path, without the query string.' })
  path: string | null;

  @ApiProperty({ ...NULLABLE_STRING, description: 'The Host the request was sent to.' })
  authority: string | null;

  @ApiProperty(NULLABLE_STRING)
  ip: string | null;

  @ApiProperty(NULLABLE_STRING)
  user_agent: string | null;

  @ApiProperty(NULLABLE_STRING)
  request_id: string | null;

  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Event-specific details.' })
  detail: Record<string, unknown>;
}

export class AuditPage {
  @ApiProperty({ type: () => [AuditEventView], description: 'Newest first.' })
  events: AuditEventView[];

  @ApiProperty({ type: 'string', nullable: true, description: 'Pass as `cursor` for the next page; null on the last one.' })
  next_cursor: string | null;
}

export class FailingAgentCount {
  @ApiProperty()
  agent_uid: string;

  @ApiProperty({ type: 'integer' })
  failures: number;
}

const COUNTS = { type: 'object', additionalProperties: { type: 'integer' } } as const;

export class AuditSummary {
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true })
  from: string | null;

  @ApiProperty({ type: 'string', format: 'date-time', nullable: true })
  to: string | null;

  @ApiProperty({ type: 'integer' })
  total: number;

  @ApiProperty({ ...COUNTS, description: 'Event counts by event type.' })
  by_event: Record<string, number>;

  @ApiProperty({ ...COUNTS, description: 'Event counts by outcome.' })
  by_outcome: Record<string, number>;

  @ApiProperty({ ...COUNTS, description: 'Failure counts by error code.' })
  by_error_code: Record<string, number>;

  @ApiProperty({ type: () => [FailingAgentCount] })
  top_failing_agents: FailingAgentCount[];
}
