import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { PublicKey, StoredPublicJwk } from './entities/public-key.entity';

/** A key together with the status of the agent it belongs to. */
export interface KeyWithAgent {
  kid: string;
  agentUid: string;
  jwk: StoredPublicJwk;
  keyStatus: PublicKey['status'];
  agentStatus: 'active' | 'disabled';
}

@Injectable()
export class PublicKeyRepository {
  constructor(@InjectRepository(PublicKey) private readonly keys: Repository<PublicKey>) {}

  /** One primary-key lookup joined to its agent: the verification hot path. */
  async findWithAgent(kid: string): Promise<KeyWithAgent | null> {
    const rows: Array<{ kid: string; agent_uid: string; jwk: StoredPublicJwk; key_status: PublicKey['status']; agent_status: 'active' | 'disabled' }> =
      await this.keys.query(
        `SELECT k.kid, k.agent_uid, k.jwk, k.status AS key_status, a.status AS agent_status
           FROM public_keys k JOIN agents a ON a.uid = k.agent_uid
          WHERE k.kid = $1`,
        [kid],
      );
    const row = rows[0];
    return row
      ? { kid: row.kid, agentUid: row.agent_uid, jwk: row.jwk, keyStatus: row.key_status, agentStatus: row.agent_status }
      : null;
  }

  /** Many keys by primary key in one query (concurrent cache misses share it); null where unknown, in input order. */
  async findManyWithAgent(kids: readonly string[]): Promise<Array<KeyWithAgent | null>> {
    const rows: Array<{ kid: string; agent_uid: string; jwk: StoredPublicJwk; key_status: PublicKey['status']; agent_status: 'active' | 'disabled' }> =
      await this.keys.query(
        `SELECT k.kid, k.agent_uid, k.jwk, k.status AS key_status, a.status AS agent_status
           FROM public_keys k JOIN agents a ON a.uid = k.agent_uid
          WHERE k.kid = ANY($1::varchar[])`,
        [kids],
      );
    const byKid = new Map(rows.map((row) => [row.kid, row]));
    return kids.map((kid) => {
      const row = byKid.get(kid);
      return row ? { kid: row.kid, agentUid: row.agent_uid, jwk: row.jwk, keyStatus: row.key_status, agentStatus: row.agent_status } : null;
    });
  }

  /** Published keys of many agents in one query; for each uid, undefined when the agent is unknown or disabled. */
  async findManyPublishedKeys(uids: readonly string[]): Promise<Array<StoredPublicJwk[] | undefined>> {
    const rows: Array<{ uid: string; jwk: StoredPublicJwk | null }> = await this.keys.query(
      `SELECT a.uid, k.jwk
         FROM agents a LEFT JOIN public_keys k ON k.agent_uid = a.uid AND k.status = 'active'
        WHERE a.uid = ANY($1::varchar[]) AND a.status = 'active'`,
      [uids],
    );
    const byUid = new Map<string, StoredPublicJwk[]>();
    for (const row of rows) {
      const keys = byUid.get(row.uid) ?? [];
      if (row.jwk) keys.push(row.jwk);
      byUid.set(row.uid, keys);
    }
    return uids.map((uid) => byUid.get(uid));
  }

  findByKid(kid: string, manager?: EntityManager): Promise<PublicKey | null> {
    return (manager?.getRepository(PublicKey) ?? this.keys).findOneBy({ kid });
  }

  findByAgent(uid: string): Promise<PublicKey[]> {
    return this.keys.find({ where: { agentUid: uid }, order: { createdAt: 'ASC' } });
  }

  /**
   * Inserts a key unless its kid exists. Returns false on conflict: the
   * unique primary key decides, so concurrent registrations of one key
   * cannot both win.
   */
  async insertIfAbsent(manager: EntityManager, agentUid: string, jwk: StoredPublicJwk): Promise<boolean> {
    const rows: unknown[] = await manager.query(
      `INSERT INTO public_keys (kid, agent_uid, jwk, status) VALUES ($1, $2, $3, 'active')
       ON CONFLICT (kid) DO NOTHING RETURNING kid`,
      [jwk.kid, agentUid, JSON.stringify(jwk)],
    );
    return rows.length === 1;
  }

  /** Revokes a key if it is still active; false when it was not. */
  async revokeIfActive(manager: EntityManager, kid: string, reason: string): Promise<boolean> {
    const result: [unknown[], number] = await manager.query(
      `UPDATE public_keys SET status = 'revoked', revoked_at = now(), revoked_reason = $2
        WHERE kid = $1 AND status = 'active'`,
      [kid, reason.slice(0, 200)],
    );
    return result[1] === 1;
  }
}
