import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Agent } from './agent.entity';

export type PublicKeyStatus = 'active' | 'revoked';

/** The canonical public JWK we store and publish: nothing the client added survives. */
export type StoredPublicJwk = {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
};

@Entity({ name: 'public_keys' })
// At most one active key per agent: concurrent rotations cannot leave two.
@Index('public_keys_one_active_per_agent', ['agentUid'], { unique: true, where: `status = 'active'` })
export class PublicKey {
  /** RFC 7638 thumbprint, computed by the server. Globally unique. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  kid: string;

  @Index('public_keys_agent_uid_idx')
  @Column({ name: 'agent_uid', type: 'varchar', length: 30 })
  agentUid: string;

  @ManyToOne('Agent', (agent: Agent) => agent.keys, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'agent_uid', referencedColumnName: 'uid' })
  agent?: Agent;

  @Column({ type: 'jsonb' })
  jwk: StoredPublicJwk;

  @Column({ type: 'varchar', length: 16, default: 'active' })
  status: PublicKeyStatus;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @Column({ name: 'revoked_reason', type: 'varchar', length: 200, nullable: true })
  revokedReason: string | null;
}
