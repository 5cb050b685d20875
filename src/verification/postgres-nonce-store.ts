import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { GroupCommit } from '../common/batching/group-commit';
import { isDatabaseUnavailable } from '../common/filters/database-errors';
import { NonceStore, replayed } from './nonce-store';
import type { AuditEntry } from '../audit/audit-entry';
import type { VerificationAuditSink } from './verification-audit';
import { NonceClaim, UsedNonceRepository } from './used-nonce.repository';
import { PeriodicJob } from '../common/scheduling/periodic-job';

const PURGE_BATCH = 5000;

interface RecordedClaim {
  claim: NonceClaim;
  success: AuditEntry;
  sink: VerificationAuditSink;
}

/**
 * Nonces in PostgreSQL, shared by every instance. Concurrent requests are
 * claimed together in one INSERT (group commit). Rows past their keep-until
 * time (the signature's acceptance window plus NONCE_RETENTION_MARGIN_SECONDS)
 * are purged on a schedule, in batches, so the table stays as small as that
 * window.
 */
@Injectable()
export class PostgresNonceStore extends NonceStore implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(PostgresNonceStore.name);
  private readonly batch = new GroupCommit<NonceClaim, boolean>((claims) => this.claimBatch(claims), 256, 2, isDatabaseUnavailable);
  // purge() logs its own failures.
  private readonly purger = new PeriodicJob(() => this.purge(), () => undefined);
  purged = 0;

  /**
   * `withAuditTrail`: the database also holds the authority's audit trail,
   * so a verification's audit row is written in the nonce's statement. A
   * service built with forRoot has only `used_nonces` (README) and records
   * outcomes through its own sink.
   */
  constructor(
    private readonly nonces: UsedNonceRepository,
    private readonly purgeIntervalSeconds: number,
    private readonly withAuditTrail = true,
  ) {
    super();
  }

  private readonly recorded = new GroupCommit<RecordedClaim, boolean>(
    (items) => this.claimAndRecordBatch(items),
    256,
    2,
    isDatabaseUnavailable,
  );
  consume(kid: string, nonce: string, keepUntilSeconds: number): Promise<boolean> {
    return this.batch.submit({ kid, nonce, keepUntilSeconds });
  }

  /** Nonce and audit row in the same statement, batched across concurrent requests. */
  override consumeAndRecord(kid: string, nonce: string, keepUntilSeconds: number, success: AuditEntry, sink: VerificationAuditSink): Promise<boolean> {
    if (!this.withAuditTrail) return super.consumeAndRecord(kid, nonce, keepUntilSeconds, success, sink);
    return this.recorded.submit({ claim: { kid, nonce, keepUntilSeconds }, success, sink });
  }

  onApplicationBootstrap(): void {
    this.purger.start(this.purgeIntervalSeconds * 1000);
  }

  /** Before the database closes (onApplicationShutdown): no new purge, and one already running finishes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.purger.stop();
  }

  /** Removes expired nonces in batches; returns how many. */
  async purge(): Promise<number> {
    let total = 0;
    try {
      // Stopping: the batch in progress ends, the rest waits for the next purge.
      for (let removed = PURGE_BATCH; removed === PURGE_BATCH && !this.purger.stopping; total += removed) {
        removed = await this.nonces.purgeExpired(PURGE_BATCH);
      }
      if (total > 0) this.logger.debug(`Purged ${total} expired nonce(s)`);
    } catch (error) {
      this.logger.warn(`Nonce purge failed after ${total} row(s): ${(error as Error).message}`);
    }
    this.purged += total;
    return total;
  }

  private async claimAndRecordBatch(items: RecordedClaim[]): Promise<boolean[]> {
    const firsts = new Set<string>();
    const unique = items.filter((item) => {
      const key = `${item.claim.kid}\u0000${item.claim.nonce}`;
      return !firsts.has(key) && (firsts.add(key), true);
    });
    const fresh = await this.nonces.claimAndRecord(unique);
    const byItem = new Map(unique.map((item, i) => [item, fresh[i]]));
    // A nonce twice in one batch: the later ones are replays, recorded as such.
    // The batch's own statement has committed: a duplicate whose row cannot
    // be written is still refused, and must not fail the others' answers
    // (as a failed verification's row, it is logged instead).
    const duplicates = items.filter((item) => !byItem.has(item));
    await Promise.all(
      duplicates.map((item) =>
        item.sink.record(replayed(item.success)).catch((error: unknown) => {
          this.logger.error(`Could not record a replayed nonce of ${item.success.kid ?? '?'}: ${(error as Error).message}`);
        }),
      ),
    );
    return items.map((item) => byItem.get(item) ?? false);
  }

  private async claimBatch(claims: NonceClaim[]): Promise<boolean[]> {
    // A nonce twice in one batch: only its first occurrence may win.
    const seen = new Map<string, number>();
    const unique: NonceClaim[] = [];
    const indexOf = claims.map((c) => {
      const key = `${c.kid}\u0000${c.nonce}`;
      const first = seen.get(key);
      if (first !== undefined) return -1;
      seen.set(key, unique.length);
      unique.push(c);
      return unique.length - 1;
    });
    const fresh = await this.nonces.claim(unique);
    return indexOf.map((i) => (i === -1 ? false : fresh[i]));
  }
}
