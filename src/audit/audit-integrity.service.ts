import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { compareRange, GENESIS_HASH, packEntries, purgeMac, sameBytes, sealHash, unpackEntries } from './audit-chain';
import { AuditSealRepository, SealRow } from './audit-seal.repository';
import type { ChainReport } from './dto/chain-report.dto';
import { PeriodicJob } from '../common/scheduling/periodic-job';

const SEAL_LOCK_KEY = 0x61756474; // "audt"
const MAX_EVENTS_PER_SEAL = 1000;

/** The newest seal an instance has made or verified: the table's tail must still hold it. */
interface SealAnchor {
  sealId: string;
  firstId: string;
  lastId: string;
  hash: Buffer;
}

interface ChainBreak {
  first_broken_id: string;
  reason: string;
}

interface TailBreak extends ChainBreak {
  reason: 'tail truncated' | 'tail altered';
  message: string;
}

/**
 * Tamper evidence without serializing writers: events are inserted freely
 * (group commit, several instances), and a background sealer, one instance
 * at a time, seals settled events into a hash chain. Verification
 * recomputes every row hash and every link, checks that the first seal
 * chains from the genesis hash or from a recorded retention purge, and that
 * the newest seal this instance made or verified is still there unchanged.
 */
@Injectable()
export class AuditIntegrityService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(AuditIntegrityService.name);
  private readonly sealer = new PeriodicJob(() => this.sealAll(), (e) => this.logger.warn(`Sealing failed: ${e.message}`));
  /**
   * In memory only, so a restart forgets it (the log lines each seal writes
   * stay the durable anchor). Without it the sealer would be an oracle: a
   * database writer could delete the newest seals, edit the events they
   * covered, and have them sealed again under the key.
   */
  private anchor?: SealAnchor;
  /** Set once the tail no longer holds the anchor: sealing stops until an operator restarts the instance. */
  private tailBreak?: TailBreak;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly seals: AuditSealRepository,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.audit.sealKey && this.config.isProduction) {
      this.logger.warn('AUDIT_SEAL_KEY is not set: audit seals are unkeyed SHA-256, which a database writer could recompute');
    }
    this.sealer.start(this.config.audit.sealIntervalSeconds * 1000);
  }

  /** Before the database closes (onApplicationShutdown): no new seal, and one already running finishes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.sealer.stop();
  }

  /** Seals every settled event; returns how many. Concurrent calls share one run. */
  sealPending(): Promise<number> {
    return this.sealer.run();
  }

  /**
   * Seals full batches while there is a backlog, then the settled rest once.
   * Under steady load events settle continuously: looping until nothing is
   * left would run seal transactions back to back (measured: ~30 a second of
   * ~100 events each at 3,000 signed requests a second, and a quarter less
   * throughput); what settles meanwhile waits for the next tick.
   */
  private async sealAll(): Promise<number> {
    let total = 0;
    // Stopping: the batch in progress ends, the backlog waits for the next instance.
    for (let sealed = MAX_EVENTS_PER_SEAL; sealed === MAX_EVENTS_PER_SEAL && !this.sealer.stopping; total += sealed) {
      sealed = await this.sealOnce();
    }
    return total;
  }

  private async sealOnce(): Promise<number> {
    if (this.tailBreak) {
      this.logger.error(`Refusing to seal audit events: ${this.tailBreak.message}`);
      return 0;
    }
    const outcome = await this.dataSource.transaction(async (manager): Promise<{ broken: TailBreak } | { sealed: number; newest?: SealAnchor } | undefined> => {
      if (!(await this.seals.tryLock(manager, SEAL_LOCK_KEY))) return undefined;
      // Read under the lock each time: other instances seal in turn, and this one learns their seals here.
      const last = await this.seals.last(manager);
      const broken = await this.checkTail(this.anchor, last, manager);
      if (broken) return { broken };
      const afterId = last?.lastId ?? '0';
      const upTo = await this.seals.sealableUpTo(manager, afterId, this.config.audit.sealGraceSeconds, MAX_EVENTS_PER_SEAL);
      if (!upTo) return { sealed: 0, newest: last && anchorOf(last) };
      const firstId = (BigInt(afterId) + 1n).toString();
      const rows = await this.seals.rowHashes(firstId, upTo, manager);
      const entries = packEntries(rows);
      const prevHash = last?.hash ?? GENESIS_HASH;
      const hash = sealHash(this.config.audit.sealKey, prevHash, firstId, upTo, entries);
      const sealId = await this.seals.insert(manager, { firstId, lastId: upTo, eventCount: rows.length, entries, prevHash, hash });
      // An anchor outside the database: truncating the chain's tail shows against the logs.
      this.logger.log(`Sealed audit events ${firstId}..${upTo} (${rows.length}) hash=${hash.toString('hex')}`);
      return { sealed: rows.length, newest: { sealId, firstId, lastId: upTo, hash } };
    });
    if (!outcome) return 0;
    if ('broken' in outcome) {
      this.refuse(outcome.broken);
      return 0;
    }
    // Only once committed: a seal rolled back is no anchor.
    if (outcome.newest) this.remember(outcome.newest);
    return outcome.sealed;
  }

  /** Recomputes the chain; reports the first broken event id. */
  async verify(): Promise<ChainReport> {
    // Taken before the walk: a seal this instance makes meanwhile is no truncation.
    const anchor = this.anchor;
    let checked = 0;
    let previous: SealRow | undefined;
    let first: SealRow | undefined;
    for (let page = await this.seals.page('0', 100); page.length > 0; page = await this.seals.page(page[page.length - 1].id, 100)) {
      for (const seal of page) {
        const broken = (await this.checkSeal(seal, previous)) ?? (first ? undefined : await this.checkHead(seal));
        if (broken) return { ok: false, checked, ...broken };
        first ??= seal;
        checked += seal.eventCount;
        previous = seal;
      }
    }
    const bounds = await this.seals.eventBounds(previous?.lastId ?? '0');
    // Nothing may sit below the first seal: purges remove whole sealed batches.
    if (first && bounds.minId !== null && BigInt(bounds.minId) < BigInt(first.firstId)) {
      return { ok: false, checked, first_broken_id: bounds.minId, reason: 'inserted' };
    }
    const tail = this.tailBreak ?? (await this.checkTail(anchor, previous));
    if (tail) {
      this.refuse(tail);
      return { ok: false, checked, first_broken_id: tail.first_broken_id, reason: tail.reason };
    }
    if (previous) this.remember(anchorOf(previous));
    return { ok: true, checked, unsealed: bounds.unsealed };
  }

  /** The first seal left chains from the genesis hash, or from the last seal a recorded retention purge removed. */
  private async checkHead(head: SealRow): Promise<ChainBreak | undefined> {
    if (sameBytes(head.prevHash, GENESIS_HASH) || (await this.followsPurge(head))) return undefined;
    return { first_broken_id: head.firstId, reason: 'head deleted' };
  }

  /**
   * Whether a `purge` event vouches for `head`'s link: it names the last
   * event purged and the hash of the last seal purged, under a MAC a
   * database writer cannot compute (with AUDIT_SEAL_KEY).
   */
  private async followsPurge(head: SealRow, manager?: EntityManager): Promise<boolean> {
    const throughId = (BigInt(head.firstId) - 1n).toString();
    const mac = purgeMac(this.config.audit.sealKey, throughId, head.prevHash);
    const records = await this.seals.purgeRecords(throughId, manager);
    return records.some(
      (r) =>
        typeof r.through_hash === 'string' &&
        typeof r.mac === 'string' &&
        sameBytes(Buffer.from(r.through_hash, 'hex'), head.prevHash) &&
        sameBytes(Buffer.from(r.mac, 'hex'), mac),
    );
  }

  /**
   * Whether the table's tail (`newest`, the newest seal) still holds `anchor`,
   * the newest seal this instance made or verified. Only a retention purge
   * of the head may remove it.
   */
  private async checkTail(anchor: SealAnchor | undefined, newest: SealRow | undefined, manager?: EntityManager): Promise<TailBreak | undefined> {
    if (!anchor) return undefined;
    const seen = `seal ${anchor.sealId} (events ${anchor.firstId}..${anchor.lastId}, hash ${anchor.hash.toString('hex')})`;
    if (!newest || BigInt(newest.id) < BigInt(anchor.sealId)) {
      const now = newest ? `seal ${newest.id} (events ${newest.firstId}..${newest.lastId})` : 'no seal at all';
      return {
        first_broken_id: (BigInt(newest?.lastId ?? '0') + 1n).toString(),
        reason: 'tail truncated',
        message: `the audit chain's tail was truncated: the newest seal is ${now}, but this instance made or verified ${seen}`,
      };
    }
    const row = newest.id === anchor.sealId ? newest : await this.seals.byId(anchor.sealId, manager);
    if (row ? sameSeal(row, anchor) : await this.purgedPast(anchor.lastId, manager)) return undefined;
    return {
      first_broken_id: anchor.firstId,
      reason: 'tail altered',
      message: `the audit chain's tail was altered: ${seen}, which this instance made or verified, ${row ? 'has changed' : 'is gone'} (newest seal now ${newest.id}, events ..${newest.lastId})`,
    };
  }

  /** Whether retention purged the chain's head past event `lastId` (and recorded it). */
  private async purgedPast(lastId: string, manager?: EntityManager): Promise<boolean> {
    const head = await this.seals.first(manager);
    return !!head && BigInt(head.firstId) > BigInt(lastId) && (await this.followsPurge(head, manager));
  }

  private remember(seal: SealAnchor): void {
    if (!this.anchor || BigInt(seal.sealId) > BigInt(this.anchor.sealId)) this.anchor = seal;
  }

  private refuse(tail: TailBreak): void {
    if (this.tailBreak) return;
    this.tailBreak = tail;
    this.logger.error(
      `Audit sealing stopped: ${tail.message}. Events from id ${tail.first_broken_id} may have been edited; investigate ` +
        '(verify-audit, the "Sealed audit events" log lines), then restart this instance to seal again',
    );
  }

  private async checkSeal(seal: SealRow, previous: SealRow | undefined): Promise<{ first_broken_id: string; reason: string } | undefined> {
    if (previous && (!sameBytes(seal.prevHash, previous.hash) || BigInt(seal.firstId) !== BigInt(previous.lastId) + 1n)) {
      return { first_broken_id: seal.firstId, reason: 'seal chain broken' };
    }
    const expected = sealHash(this.config.audit.sealKey, seal.prevHash, seal.firstId, seal.lastId, seal.entries);
    // event_count is derived from the (hashed) entries, so it must agree with them.
    if (!sameBytes(expected, seal.hash) || seal.eventCount * 16 !== seal.entries.length) {
      return { first_broken_id: seal.firstId, reason: 'seal altered' };
    }
    const result = compareRange(unpackEntries(seal.entries), await this.seals.rowHashes(seal.firstId, seal.lastId));
    return result.ok ? undefined : { first_broken_id: result.brokenId, reason: result.reason };
  }
}

function anchorOf(seal: SealRow): SealAnchor {
  return { sealId: seal.id, firstId: seal.firstId, lastId: seal.lastId, hash: seal.hash };
}

function sameSeal(row: SealRow, anchor: SealAnchor): boolean {
  return row.firstId === anchor.firstId && row.lastId === anchor.lastId && sameBytes(row.hash, anchor.hash);
}
