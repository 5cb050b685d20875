import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Client, Notification } from 'pg';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { DatabaseEndpoint } from '../database/database-endpoint';
import { LocalKeyResolver } from './local-key-resolver';
import { KeyCachePolicy } from './key-cache-policy';

const CHANNEL = 'vestauth_key_changes';
export const LISTENER_APPLICATION_NAME = 'vestauth key listener';
const LISTENER_END_TIMEOUT_MS = 2_000;

export interface KeyChange {
  kid?: string;
  uid?: string;
}

/** What the database's trigger sends (migration 1795800000004): a key's row, an agent's row, or a whole table truncated. */
interface KeyChangeNotification extends KeyChange {
  all?: boolean;
}

/**
 * Rotation, revocation and disabling reach every instance's key cache: this
 * instance evicts at once, the others through PostgreSQL LISTEN/NOTIFY.
 * The database sends the NOTIFY itself: a trigger on public_keys and agents
 * (migration 1795800000004) fires in the changing statement's transaction,
 * so a change commits only with its notification, whether the service or an
 * operator in plain SQL made it. The listener connection is checked every half
 * KEY_CACHE_TTL_MS (a query that must answer within the other half): when
 * it fails, drops or hangs, the caches are cleared at once and entries live
 * only KEY_CACHE_TTL_MS until it is back (KeyCachePolicy), and they are
 * cleared again when it reconnects, since notifications may have been missed.
 */
@Injectable()
export class KeyInvalidation implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(KeyInvalidation.name);
  private listener?: Client;
  private stopped = false;
  /** When the live channel was lost (performance.now()), until it is back. */
  private lostAt?: number;
  private retryTimer?: NodeJS.Timeout;
  private heartbeatTimer?: NodeJS.Timeout;
  /** Whether LISTEN is active (false on the embedded database, which is one session). */
  listening = false;
  private readonly listeners: Array<(change: KeyChange | 'all') => void> = [];

  constructor(
    private readonly local: LocalKeyResolver,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly endpoint: DatabaseEndpoint,
    private readonly config: AppConfig,
    private readonly policy: KeyCachePolicy,
  ) {}

  /** Other caches of key material (the directory cache) hear of every change too. */
  subscribe(listener: (change: KeyChange | 'all') => void): void {
    this.listeners.push(listener);
  }

  /** After the commit: a key of agent `uid` was rotated out or revoked; this instance's caches forget it. */
  keyChanged(kid: string, uid: string): void {
    this.apply({ kid, uid });
  }

  /** After the commit: the agent was disabled or enabled. */
  agentChanged(uid: string): void {
    this.apply({ uid });
  }

  private apply(change: KeyChange | 'all'): void {
    this.policy.evicted();
    if (change === 'all') this.local.clear();
    else this.local.invalidate({ kid: change.kid, agentUid: change.kid ? undefined : change.uid });
    for (const listener of this.listeners) listener(change);
  }

  async onApplicationBootstrap(): Promise<void> {
    // The embedded database has one user, this process (DATA_DIR's pid lock): every change is made, and evicted, here.
    if (this.endpoint.isEmbedded) this.policy.setNotified(true);
    if (this.endpoint.isSingleSession) return;
    await this.listen();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeatTimer);
    // A hung session (its backend frozen, a dead network path) must not hold the shutdown: the process exits without it.
    let timer: NodeJS.Timeout | undefined;
    const bounded = new Promise<void>((resolve) => (timer = setTimeout(resolve, LISTENER_END_TIMEOUT_MS)));
    await Promise.race([this.listener?.end().catch(() => undefined), bounded]);
    clearTimeout(timer);
  }

  private async listen(): Promise<void> {
    const client = new Client({
      connectionString: this.endpoint.url,
      connectionTimeoutMillis: this.config.database.connectTimeoutMs,
      keepAlive: true,
      // Names the session in pg_stat_activity for operators (and the reliability test that freezes it).
      application_name: `${LISTENER_APPLICATION_NAME} ${process.pid}`,
    });
    client.on('notification', (message: Notification) => this.onNotification(message));
    client.on('error', (error: Error) => this.onListenerLost(client, error));
    client.on('end', () => this.onListenerLost(client, new Error('connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      this.listener = client;
      if (!this.listening) this.apply('all');
      if (this.lostAt !== undefined) {
        this.logger.log(`Key change listener back after ${Math.round(performance.now() - this.lostAt)} ms; caches cleared, long TTL again`);
        this.lostAt = undefined;
      }
      this.listening = true;
      this.policy.setNotified(true);
      this.startHeartbeat(client);
    } catch (error) {
      this.onListenerLost(client, error as Error);
    }
  }

  private onNotification(message: Notification): void {
    try {
      const change = JSON.parse(message.payload ?? '{}') as KeyChangeNotification;
      if (change.all === true) return this.apply('all');
      this.apply({ kid: typeof change.kid === 'string' ? change.kid : undefined, uid: typeof change.uid === 'string' ? change.uid : undefined });
    } catch {
      this.apply('all');
    }
  }

  /** A notification sent before the heartbeat's query arrives before its answer; no answer in time: treat the channel as lost. */
  private startHeartbeat(client: Client): void {
    const ttl = this.config.verification.keyCacheTtlMs;
    if (ttl <= 0) return;
    const half = Math.max(100, Math.floor(ttl / 2));
    clearInterval(this.heartbeatTimer);
    let inFlight = false;
    this.heartbeatTimer = setInterval(() => {
      if (inFlight) return;
      inFlight = true;
      const timeout = setTimeout(() => this.onListenerLost(client, new Error(`no heartbeat answer within ${half} ms`)), half);
      client
        .query('SELECT 1')
        .then(
          () => undefined,
          (error: Error) => this.onListenerLost(client, error),
        )
        .finally(() => {
          clearTimeout(timeout);
          inFlight = false;
        });
    }, half);
    this.heartbeatTimer.unref();
  }

  private onListenerLost(client: Client, error: Error): void {
    if (this.stopped || (this.listener && this.listener !== client)) return;
    if (this.listening) {
      this.logger.warn(`Key change listener lost (${error.message}); caches cleared, entries live KEY_CACHE_TTL_MS until it is back; retrying every 2 s`);
      this.lostAt = performance.now();
    }
    clearInterval(this.heartbeatTimer);
    // Notifications may be missed from now on: nothing cached under the long TTL may stay.
    if (this.listening) {
      this.policy.setNotified(false);
      this.apply('all');
    }
    this.listening = false;
    this.listener = undefined;
    client.removeAllListeners();
    void client.end().catch(() => undefined);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.listen(), 2000);
    this.retryTimer.unref();
  }
}
