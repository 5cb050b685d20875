import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { purgeMac } from './audit-chain';
import { AuditSealRepository, SealRow } from './audit-seal.repository';
import { AuditService } from './audit.service';
import { AuditIntegrityService } from './audit-integrity.service';
import { PeriodicJob } from '../common/scheduling/periodic-job';

const SEALS_PER_PASS = 50;
const PURGE_LOCK_KEY = 0x61756470; // "audp"

/**
 * AUDIT_RETENTION_DAYS: removes events older than the retention, whole
 * sealed batches from the chain's head, so the remaining chain still
 * verifies. Each pass records itself in the transaction that deletes: the
 * first seal left no longer chains from the genesis hash, and the `purge`
 * event says from which hash it does (with a MAC), which tells a purge from
 * a deletion of the head.
 */
@Injectable()
export class AuditRetentionService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(AuditRetentionService.name);
  private readonly purger = new PeriodicJob(() => this.purgeExpired(), (e) => this.logger.warn(`Audit purge failed: ${e.message}`));
  /** Events removed since start (metrics). */
  purged = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly seals: AuditSealRepository,
    private readonly integrity: AuditIntegrityService,
    private readonly audit: AuditService,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.audit.retentionDays === undefined) return;
    this.purger.start(this.config.audit.purgeIntervalSeconds * 1000);
  }

  /** Before the database closes (onApplicationShutdown): no new purge, and one already running finishes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.purger.stop();
  }

  /** Deletes sealed batches older than the retention; returns how many events went. */
  async purgeExpired(now = new Date()): Promise<{ deleted: number; throughId: string | null }> {
    const days = this.config.audit.retentionDays;
    if (days === undefined) return { deleted: 0, throughId: null };
    await this.integrity.sealPending();
    const cutoff = new Date(now.getTime() - days * 86_400_000);
    let deleted = 0;
    let throughId: string | null = null;
    // Stopping: the pass in progress ends, the rest waits for the next purge.
    for (let pass = await this.purgePass(cutoff, days); pass; pass = this.purger.stopping ? undefined : await this.purgePass(cutoff, days)) {
      deleted += pass.deleted;
      throughId = pass.throughId;
      this.logger.log(`Audit retention: ${deleted} event(s) purged so far, through id ${throughId}`);
    }
    this.purged += deleted;
    return { deleted, throughId };
  }

  /** Up to SEALS_PER_PASS expired batches from the head, with their `purge` event, in one transaction. */
  private purgePass(cutoff: Date, days: number): Promise<{ deleted: number; throughId: string } | undefined> {
    return this.dataSource.transaction(async (manager) => {
      // One purger at a time (several instances): another's pass would find its batches gone.
      if (!(await this.seals.tryLock(manager, PURGE_LOCK_KEY))) return undefined;
      const head = await this.seals.first(manager);
      const batch = headRun(head, await this.seals.sealsOlderThan(cutoff, SEALS_PER_PASS, manager));
      if (batch.length === 0) return undefined;
      let deleted = 0;
      for (const seal of batch) deleted += await this.seals.deleteSealed(manager, seal);
      const through = batch[batch.length - 1];
      await this.audit.recordIn(manager, {
        event: 'purge',
        outcome: 'success',
        detail: {
          deleted,
          through_id: through.lastId,
          retention_days: days,
          through_hash: through.hash.toString('hex'),
          mac: purgeMac(this.config.audit.sealKey, through.lastId, through.hash).toString('hex'),
        },
      });
      return { deleted, throughId: through.lastId };
    });
  }
}

/**
 * The expired seals that run on from the head without a gap. Event times
 * follow ids only closely, so a batch near the cutoff may still hold a newer
 * event while the next one expired: purging past it would cut the chain.
 */
function headRun(head: SealRow | undefined, expired: readonly SealRow[]): SealRow[] {
  const run: SealRow[] = [];
  for (const seal of expired) {
    const previous = run[run.length - 1];
    if (previous ? BigInt(seal.firstId) !== BigInt(previous.lastId) + 1n : seal.id !== head?.id) break;
    run.push(seal);
  }
  return run;
}
