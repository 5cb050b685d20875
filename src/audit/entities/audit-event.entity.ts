import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export const AUDIT_EVENTS = ['register', 'rotate', 'verify', 'revoke', 'disable', 'enable', 'purge', 'admin_query'] as const;
export type AuditEventType = (typeof AUDIT_EVENTS)[number];
export type AuditOutcome = 'success' | 'failure';

/** Append-only record of every register, rotate, verify and admin action. */
@Entity({ name: 'audit_events' })
@Index('audit_events_agent_idx', ['agentUid', 'id'])
@Index('audit_events_event_outcome_idx', ['event', 'outcome', 'id'])
@Index('audit_events_error_code_idx', ['errorCode', 'id'])
@Index('audit_events_occurred_at_idx', ['occurredAt'])
export class AuditEvent {
  // bigint comes back from pg as a string; ids are exposed as strings too.
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column({ name: 'occurred_at', type: 'timestamptz', default: () => 'now()' })
  occurredAt: Date;

  @Column({ type: 'varchar', length: 16 })
  event: AuditEventType;

  @Column({ type: 'varchar', length: 8 })
  outcome: AuditOutcome;

  @Column({ name: 'error_code', type: 'varchar', length: 40, nullable: true })
  errorCode: string | null;

  @Column({ name: 'agent_uid', type: 'varchar', length: 30, nullable: true })
  agentUid: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  kid: string | null;

  @Column({ type: 'varchar', length: 10, nullable: true })
  method: string | null;

  @Column({ type: 'varchar', length: 512, nullable: true })
  path: string | null;

  @Column({ type: 'varchar', length: 260, nullable: true })
  authority: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 256, nullable: true })
  userAgent: string | null;

  @Column({ name: 'request_id', type: 'varchar', length: 64, nullable: true })
  requestId: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  detail: Record<string, unknown>;
}
