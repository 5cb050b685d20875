import { Injectable, Logger, OnApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { GroupCommit } from '../common/batching/group-commit';
import { isDatabaseUnavailable } from '../common/filters/database-errors';
import { NonceStore } from './nonce-store';
import { NonceClaim, UsedNonceRepository } from './used-nonce.repository';

const PURGE_BATCH = 5000;

/**
 * Nonces in PostgreSQL, shared by every instance. Concurrent requests are
 * claimed together in one INSERT (group commit). Expired rows are purged on
 * a schedule, in batches, so the table stays as small as the live window.
 */
@Injectable()
export class PostgresNonceStore extends NonceStore implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(PostgresNonceStore.name);
  private readonly batch = new GroupCommit<NonceClaim, boolean>((claims) => this.claimBatch(claims), 256, 2, isDatabaseUnavailable);
  private timer?: NodeJS.Timeout;
  purged = 0;

  constructor(
    private readonly nonces: UsedNonceRepository,
    private readonly purgeIntervalSeconds: number,
  ) {
    super();
  }

  consume(kid: string, nonce: string, expiresAtSeconds: number): Promise<boolean> {
    return this.batch.submit({ kid, nonce, expiresAtSeconds });
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.purge(), this.purgeIntervalSeconds * 1000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Removes expired nonces in batches; returns how many. */
  async purge(): Promise<number> {
    let total = 0;
    try {
      for (let removed = PURGE_BATCH; removed === PURGE_BATCH; total += removed) {
        removed = await this.nonces.purgeExpired(PURGE_BATCH);
      }
      if (total > 0) this.logger.debug(`Purged ${total} expired nonce(s)`);
    } catch (error) {
      this.logger.warn(`Nonce purge failed after ${total} row(s): ${(error as Error).message}`);
    }
    this.purged += total;
    return total;
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
