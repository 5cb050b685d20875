import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { pgPoolOf } from '../database/prepared-query';
import { DataSource } from 'typeorm';
import { AuditRetentionService } from '../audit/audit-retention.service';
import { RateLimitService } from '../common/rate-limit/rate-limit.service';
import { KeyResolver } from '../verification/key-resolver';
import { LocalKeyResolver } from '../verification/local-key-resolver';
import { NonceStore } from '../verification/nonce-store';
import { PostgresNonceStore } from '../verification/postgres-nonce-store';
import { RemoteKeyResolver } from '../verification/remote-key-resolver';
import { MetricsService } from './metrics.service';

/** Gauges read from the authority's components at scrape time. */
@Injectable()
export class MetricsCollectors implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly local: LocalKeyResolver,
    private readonly remote: KeyResolver,
    private readonly nonces: NonceStore,
    private readonly retention: AuditRetentionService,
    private readonly rateLimit: RateLimitService,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  onModuleInit(): void {
    const m = this.metrics;
    m.gauge('vestauth_key_cache_lookups', 'Local key cache lookups since start, by result', ['result'], (set) => {
      set({ result: 'hit' }, this.local.hits);
      set({ result: 'miss' }, this.local.misses);
    });
    m.gauge('vestauth_key_cache_hit_ratio', 'Local key cache hits / lookups since start', [], (set) => {
      const total = this.local.hits + this.local.misses;
      set({}, total === 0 ? 0 : this.local.hits / total);
    });
    m.gauge('vestauth_remote_directory_requests', 'Remote key directory activity since start', ['kind'], (set) => {
      const stats = this.remote instanceof RemoteKeyResolver ? this.remote.stats() : { hits: 0, misses: 0, fetches: 0, failures: 0 };
      for (const [kind, value] of Object.entries(stats)) set({ kind }, value);
    });
    m.gauge('vestauth_purged_rows', 'Rows removed by purges since start', ['table'], (set) => {
      set({ table: 'used_nonces' }, this.nonces instanceof PostgresNonceStore ? this.nonces.purged : 0);
      set({ table: 'audit_events' }, this.retention.purged);
    });
    m.gauge('vestauth_rate_limited_requests', 'Requests refused with 429 since start', [], (set) => set({}, this.rateLimit.limited));
    m.gauge('vestauth_db_pool_connections', 'Database pool connections by state', ['state'], (set) => {
      const pool = pgPoolOf(this.dataSource);
      set({ state: 'total' }, pool?.totalCount ?? 0);
      set({ state: 'idle' }, pool?.idleCount ?? 0);
      set({ state: 'waiting' }, pool?.waitingCount ?? 0);
    });
  }
}
