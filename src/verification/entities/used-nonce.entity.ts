import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A consumed signature nonce. The nonce itself is not stored, only its
 * SHA-256: the row needs equality, not the value, and stays fixed-size.
 */
@Entity({ name: 'used_nonces' })
export class UsedNonce {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  kid: string;

  @PrimaryColumn({ name: 'nonce_hash', type: 'bytea' })
  nonceHash: Buffer;

  @Index('used_nonces_expires_at_idx')
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;
}
