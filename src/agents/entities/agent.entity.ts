import { Column, CreateDateColumn, Entity, OneToMany, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { PublicKey } from './public-key.entity';

export type AgentStatus = 'active' | 'disabled';

@Entity({ name: 'agents' })
export class Agent {
  /** `agent-` + 24 lowercase hex (96 random bits), as vestauth issues them. */
  @PrimaryColumn({ type: 'varchar', length: 30 })
  uid: string;

  @Column({ type: 'varchar', length: 16, default: 'active' })
  status: AgentStatus;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @Column({ name: 'disabled_at', type: 'timestamptz', nullable: true })
  disabledAt: Date | null;

  @OneToMany('PublicKey', (key: PublicKey) => key.agent)
  keys?: PublicKey[];
}
