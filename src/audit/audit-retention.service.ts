import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { AuditSealRepository } from './audit-seal.repository';
import { AuditService } from './audit.service';
import { AuditIntegrityService } from './audit-integrity.service';

const SEALS_PER_PASS = 50;

/**
 * AUDIT_RETENTION_DAYS: removes events older than the retention, whole
 * sealed batches at a time (each batch and its seal in one transaction), so
 * the remaining chain still verifies. Each purge records itself.
 */
@Injectable()
export class AuditRetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AuditRetentionService.name);
  private timer?: NodeJS.Timeout;
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
    this.timer = setInterval(() => void this.purgeExpired().catch((e: Error) => this.logger.warn(`Audit purge failed: ${e.message}`)), this.config.audit.purgeIntervalSeconds * 1000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Deletes sealed batches older than the retention; returns how many events went. */
  async purgeExpired(now = new Date()): Promise<{ deleted: number; throughId: string | null }> {
    const days = this.config.audit.retentionDays;
    if (days === undefined) return { deleted: 0, throughId: null };
    await this.integrity.sealPending();
    const cutoff = new Date(now.getTime() - days * 86_400_000);
    let deleted = 0;
    let throughId: string | null = null;
    for (let batch = await this.seals.sealsOlderThan(cutoff, SEALS_PER_PASS); batch.length > 0; batch = await this.seals.sealsOlderThan(cutoff, SEALS_PER_PASS)) {
      for (const seal of batch) {
        deleted += await this.dataSource.transaction((manager) => this.seals.deleteSealed(manager, seal));
        throughId = seal.lastId;
      }
      this.logger.log(`Audit retention: ${deleted} event(s) purged so far, through id ${throughId}`);
    }
    this.purged += deleted;
    if (deleted > 0) {
      await this.audit.record({ event: 'purge', outcome: 'success', detail: { deleted, through_id: throughId, retention_days: days } });
    }
    return { deleted, throughId };
  }
}
