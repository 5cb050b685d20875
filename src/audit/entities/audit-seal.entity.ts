import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A sealed batch of audit events: the ids and short hashes of every event
 * with first_id <= id <= last_id, chained to the previous seal. Altering,
 * deleting or inserting a sealed event, or a seal, breaks the chain.
 */
@Entity({ name: 'audit_seals' })
export class AuditSeal {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column({ name: 'first_id', type: 'bigint' })
  firstId: string;

  @Column({ name: 'last_id', type: 'bigint' })
  lastId: string;

  @Column({ name: 'event_count', type: 'int' })
  eventCount: number;

  /** For each event in id order: 8-byte id, then the first 8 bytes of its row hash. */
  @Column({ type: 'bytea' })
  entries: Buffer;

  @Column({ name: 'prev_hash', type: 'bytea' })
  prevHash: Buffer;

  /** HMAC-SHA256 (AUDIT_SEAL_KEY) or SHA-256 over prev_hash, the range and the entries. */
  @Column({ type: 'bytea' })
  hash: Buffer;

  @Column({ name: 'sealed_at', type: 'timestamptz', default: () => 'now()' })
  sealedAt: Date;
}
