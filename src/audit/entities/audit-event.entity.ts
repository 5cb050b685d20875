import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export const AUDIT_EVENTS = ['register', 'rotate', 'verify', 'revoke', 'disable', 'enable', 'purge', 'admin_query'] as const;
export type AuditEventType = (typeof AUDIT_EVENTS)[number];
export type AuditOutcome = 'success' | 'failure';

/** Append-only record of every register, rotate, verify and admin action. */
@Entity({ name: 'audit_events' })
// Indexes (agent, event/outcome, error code, each with time) are defined in
// the migration: TypeORM cannot express their DESC ordering and predicates.
export class AuditEvent {
  // bigint comes back from pg as a string; ids are exposed as strings too.
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  // clock_timestamp(), not now(): the time of the insert, not of the
  // transaction's start, so it follows the id order closely (sealing relies on it).
  @Column({ name: 'occurred_at', type: 'timestamptz', default: () => 'clock_timestamp()' })
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
