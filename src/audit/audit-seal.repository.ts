import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

export interface SealRow {
  id: string;
  firstId: string;
  lastId: string;
  eventCount: number;
  entries: Buffer;
  prevHash: Buffer;
  hash: Buffer;
}

export interface RowHash {
  id: string;
  /** First 8 bytes of SHA-256 over the canonical row. */
  hash: Buffer;
}

const SEAL_COLUMNS = 'id, first_id, last_id, event_count, entries, prev_hash, hash';

// The canonical text of an event: every column, timestamps in UTC with
// microseconds, detail as normalized jsonb text. Computed by PostgreSQL so
// no precision is lost on the way to JavaScript.
const ROW_HASH = `substring(sha256(convert_to(jsonb_build_array(
    id::text, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), event, outcome, error_code,
    agent_uid, kid, method, path, authority, ip, user_agent, request_id, detail)::text, 'UTF8')) from 1 for 8)`;

@Injectable()
export class AuditSealRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Only one instance seals at a time; the lock ends with the transaction. */
  async tryLock(manager: EntityManager, key: number): Promise<boolean> {
    const [row]: Array<{ locked: boolean }> = await manager.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [key]);
    return row.locked;
  }

  async last(manager?: EntityManager): Promise<SealRow | undefined> {
    const rows = await (manager ?? this.dataSource).query(`SELECT ${SEAL_COLUMNS} FROM audit_seals ORDER BY id DESC LIMIT 1`);
    return rows[0] ? toSeal(rows[0]) : undefined;
  }

  /** The head of the chain: the oldest seal left. */
  async first(manager?: EntityManager): Promise<SealRow | undefined> {
    const rows = await (manager ?? this.dataSource).query(`SELECT ${SEAL_COLUMNS} FROM audit_seals ORDER BY id LIMIT 1`);
    return rows[0] ? toSeal(rows[0]) : undefined;
  }

  async byId(id: string, manager?: EntityManager): Promise<SealRow | undefined> {
    const rows = await (manager ?? this.dataSource).query(`SELECT ${SEAL_COLUMNS} FROM audit_seals WHERE id = $1`, [id]);
    return rows[0] ? toSeal(rows[0]) : undefined;
  }

  /** The details of the `purge` events that claim to have removed the chain's head through event `throughId`. */
  purgeRecords(throughId: string, manager?: EntityManager): Promise<Array<Record<string, unknown>>> {
    return (manager ?? this.dataSource)
      .query(`SELECT detail FROM audit_events WHERE event = 'purge' AND detail->>'through_id' = $1 ORDER BY id`, [throughId])
      .then((rows: Array<{ detail: Record<string, unknown> }>) => rows.map((r) => r.detail));
  }

  /**
   * The highest id that may be sealed after `afterId`: at most `max` events,
   * all inserted more than `graceSeconds` ago, so no transaction that could
   * still commit an event with a lower id is running.
   */
  async sealableUpTo(manager: EntityManager, afterId: string, graceSeconds: number, max: number): Promise<string | undefined> {
    const [row]: Array<{ upto: string | null }> = await manager.query(
      `SELECT max(id)::text AS upto FROM (
         SELECT id FROM audit_events
          WHERE id > $1 AND occurred_at < clock_timestamp() - make_interval(secs => $2)
          ORDER BY id LIMIT $3) AS candidates`,
      [afterId, graceSeconds, max],
    );
    return row.upto ?? undefined;
  }

  /** In numeric id order (a bare `ORDER BY id` would sort by the text alias: 13 after 129). */
  rowHashes(firstId: string, lastId: string, manager?: EntityManager): Promise<RowHash[]> {
    return (manager ?? this.dataSource)
      .query(`SELECT id::text AS id, ${ROW_HASH} AS hash FROM audit_events WHERE id >= $1 AND id <= $2 ORDER BY audit_events.id`, [firstId, lastId])
      .then((rows: Array<{ id: string; hash: Buffer }>) => rows.map((r) => ({ id: r.id, hash: Buffer.from(r.hash) })));
  }

  /** Returns the new seal's id. */
  async insert(manager: EntityManager, seal: Omit<SealRow, 'id'>): Promise<string> {
    const [row]: Array<{ id: string }> = await manager.query(
      `INSERT INTO audit_seals (first_id, last_id, event_count, entries, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id::text AS id`,
      [seal.firstId, seal.lastId, seal.eventCount, seal.entries, seal.prevHash, seal.hash],
    );
    return row.id;
  }

  /** Seals in chain order, `limit` at a time after seal id `afterId`. */
  async page(afterId: string, limit: number): Promise<SealRow[]> {
    const rows = await this.dataSource.query(
      `SELECT ${SEAL_COLUMNS} FROM audit_seals WHERE id > $1 ORDER BY id LIMIT $2`,
      [afterId, limit],
    );
    return rows.map(toSeal);
  }

  /** The lowest event id, and how many events lie above `lastSealedId` (not sealed yet). */
  async eventBounds(lastSealedId: string): Promise<{ minId: string | null; unsealed: number }> {
    const [row]: Array<{ min_id: string | null; unsealed: number }> = await this.dataSource.query(
      `SELECT (SELECT min(id)::text FROM audit_events) AS min_id,
              (SELECT count(*)::int FROM audit_events WHERE id > $1) AS unsealed`,
      [lastSealedId],
    );
    return { minId: row.min_id, unsealed: row.unsealed };
  }

  /** Seals whose every event is older than `before`, oldest first. */
  async sealsOlderThan(before: Date, limit: number, manager?: EntityManager): Promise<SealRow[]> {
    const rows = await (manager ?? this.dataSource).query(
      `SELECT s.id, s.first_id, s.last_id, s.event_count, s.entries, s.prev_hash, s.hash
         FROM audit_seals s
        WHERE NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.id BETWEEN s.first_id AND s.last_id AND e.occurred_at >= $1)
          AND s.id < (SELECT max(id) FROM audit_seals)
        ORDER BY s.id LIMIT $2`,
      [before.toISOString(), limit],
    );
    return rows.map(toSeal);
  }

  /** Deletes one sealed batch: its events and its seal, together. */
  async deleteSealed(manager: EntityManager, seal: SealRow): Promise<number> {
    const [, deleted]: [unknown, number] = await manager.query(`DELETE FROM audit_events WHERE id BETWEEN $1 AND $2`, [seal.firstId, seal.lastId]);
    await manager.query(`DELETE FROM audit_seals WHERE id = $1`, [seal.id]);
    return deleted;
  }
}

function toSeal(row: Record<string, unknown>): SealRow {
  return {
    id: String(row.id),
    firstId: String(row.first_id),
    lastId: String(row.last_id),
    eventCount: Number(row.event_count),
    entries: Buffer.from(row.entries as Buffer),
    prevHash: Buffer.from(row.prev_hash as Buffer),
    hash: Buffer.from(row.hash as Buffer),
  };
}
