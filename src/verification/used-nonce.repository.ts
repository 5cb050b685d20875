import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AuditEntry } from '../audit/audit-entry';
import { AUDIT_COLUMNS, auditRowOf } from '../audit/audit-event.repository';
import { preparedQuery } from '../database/prepared-query';

export interface NonceClaim {
  kid: string;
  nonce: string;
  /** Stored as `expires_at`: NonceStore.keepUntil, margins already included. */
  keepUntilSeconds: number;
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
    const rows = await preparedQuery<{ kid: string; nonce_hash: Buffer }>(
      this.dataSource,
      'vestauth_claim_nonces',
      `INSERT INTO used_nonces (kid, nonce_hash, expires_at)
       SELECT * FROM unnest($1::varchar[], $2::bytea[], $3::timestamptz[])
       ON CONFLICT DO NOTHING
       RETURNING kid, nonce_hash`,
      [
        claims.map((c) => c.kid),
        claims.map((c) => nonceHash(c.nonce)),
        claims.map((c) => new Date(c.keepUntilSeconds * 1000).toISOString()),
      ],
    );
    const inserted = new Set(rows.map((r) => `${r.kid}\u0000${Buffer.from(r.nonce_hash).toString('hex')}`));
    return claims.map((c) => inserted.has(`${c.kid}\u0000${nonceHash(c.nonce).toString('hex')}`));
  }

  /**
   * Claims nonces and appends each request's `verify` audit row in one
   * statement: success where the claim was new, REPLAYED_NONCE where the
   * nonce was used before. Claims must be unique within the call.
   */
  async claimAndRecord(items: ReadonlyArray<{ claim: NonceClaim; success: AuditEntry }>): Promise<boolean[]> {
    const rows = items.map((item) => auditRowOf(item.success));
    const column = (name: (typeof AUDIT_COLUMNS)[number]) => rows.map((row) => row[AUDIT_COLUMNS.indexOf(name)]);
    const result = await preparedQuery<{ i: string; fresh: boolean }>(
      this.dataSource,
      'vestauth_claim_and_record',
      `WITH input AS (
         SELECT * FROM unnest($1::varchar[], $2::bytea[], $3::timestamptz[], $4::varchar[], $5::varchar[], $6::varchar[],
                              $7::varchar[], $8::varchar[], $9::varchar[], $10::varchar[], $11::jsonb[])
           WITH ORDINALITY AS t(kid, nonce_hash, expires_at, agent_uid, method, path, authority, ip, user_agent, request_id, detail, i)),
       n AS (
         INSERT INTO used_nonces (kid, nonce_hash, expires_at)
         SELECT kid, nonce_hash, expires_at FROM input ORDER BY i
         ON CONFLICT DO NOTHING
         RETURNING kid, nonce_hash),
       claimed AS (
         SELECT input.*, n.kid IS NOT NULL AS fresh
           FROM input LEFT JOIN n ON n.kid = input.kid AND n.nonce_hash = input.nonce_hash),
       e AS (
         INSERT INTO audit_events (event, outcome, error_code, agent_uid, kid, method, path, authority, ip, user_agent, request_id, detail)
         SELECT 'verify', CASE WHEN fresh THEN 'success' ELSE 'failure' END, CASE WHEN fresh THEN NULL ELSE 'REPLAYED_NONCE' END,
                agent_uid, kid, method, path, authority, ip, user_agent, request_id, detail
           FROM claimed ORDER BY i
         RETURNING id)
       SELECT claimed.i::text AS i, fresh FROM claimed`,
      [
        items.map((item) => item.claim.kid),
        items.map((item) => nonceHash(item.claim.nonce)),
        items.map((item) => new Date(item.claim.keepUntilSeconds * 1000).toISOString()),
        column('agent_uid'),
        column('method'),
        column('path'),
        column('authority'),
        column('ip'),
        column('user_agent'),
        column('request_id'),
        column('detail'),
      ],
    );
    // Placed by each row's own ordinal, never by the rows' order: sorting the
    // text alias put 10 before 2, and answered a replay 200 and a fresh request 401.
    const fresh = new Array<boolean | undefined>(items.length);
    for (const r of result) fresh[Number(r.i) - 1] = r.fresh;
    if (fresh.some((f) => f === undefined) || result.length !== items.length) {
      throw new Error(`nonce claim answered ${result.length} rows for ${items.length} claims`);
    }
    return fresh as boolean[];
  }

  /**
   * Deletes up to `limit` rows past their `expires_at`, by the database
   * clock; returns how many. `expires_at` already lies a margin beyond the
   * last instant any instance accepts the signature (NonceStore.keepUntil),
   * so app clocks behind the database's cannot see a purged nonce's
   * signature as still valid.
   */
  async purgeExpired(limit: number): Promise<number> {
    const result: [unknown[], number] = await this.dataSource.query(
      `DELETE FROM used_nonces WHERE ctid IN (
         SELECT ctid FROM used_nonces WHERE expires_at < now() LIMIT $1)`,
      [limit],
    );
    return result[1];
  }
}
