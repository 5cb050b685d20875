import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export interface NonceClaim {
  kid: string;
  nonce: string;
  expiresAtSeconds: number;
}

/** The SHA-256 of a nonce: the table stores this, never the nonce. */
export function nonceHash(nonce: string): Buffer {
  return createHash('sha256').update(nonce, 'utf8').digest();
}

@Injectable()
export class UsedNonceRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Inserts many claims in one statement; the (kid, nonce_hash) primary key
   * decides who was first, across all instances. Returns, per claim,
   * whether it was new. Duplicates within one batch must be removed by the
   * caller (ON CONFLICT cannot see rows of its own statement).
   */
  async claim(claims: readonly NonceClaim[]): Promise<boolean[]> {
    const rows: Array<{ kid: string; nonce_hash: Buffer }> = await this.dataSource.query(
      `INSERT INTO used_nonces (kid, nonce_hash, expires_at)
       SELECT * FROM unnest($1::varchar[], $2::bytea[], $3::timestamptz[])
       ON CONFLICT DO NOTHING
       RETURNING kid, nonce_hash`,
      [
        claims.map((c) => c.kid),
        claims.map((c) => nonceHash(c.nonce)),
        claims.map((c) => new Date(c.expiresAtSeconds * 1000).toISOString()),
      ],
    );
    const inserted = new Set(rows.map((r) => `${r.kid}\u0000${Buffer.from(r.nonce_hash).toString('hex')}`));
    return claims.map((c) => inserted.has(`${c.kid}\u0000${nonceHash(c.nonce).toString('hex')}`));
  }

  /** Deletes up to `limit` expired rows; returns how many. */
  async purgeExpired(limit: number): Promise<number> {
    const result: [unknown[], number] = await this.dataSource.query(
      `DELETE FROM used_nonces WHERE ctid IN (
         SELECT ctid FROM used_nonces WHERE expires_at < now() LIMIT $1)`,
      [limit],
    );
    return result[1];
  }
}
