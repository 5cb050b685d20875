import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { AppConfig, DatabaseSettings } from '../config/app-config';
import { EmbeddedPostgres } from './embedded-postgres';

/**
 * Where the database is: DATABASE_URL, or the embedded PGlite server this
 * provider starts (and stops last, after TypeORM has closed its pool).
 */
@Injectable()
export class DatabaseEndpoint implements OnApplicationShutdown {
  private readonly logger = new Logger(DatabaseEndpoint.name);
  private embedded?: EmbeddedPostgres;
  url: string;

  constructor(
    private readonly config: AppConfig,
    private readonly moduleRef: ModuleRef,
  ) {}

  get isEmbedded(): boolean {
    return this.embedded !== undefined;
  }

  /** One backend session that every client shares: the embedded PGlite, or a PGlite socket named by DATABASE_SINGLE_SESSION. */
  get isSingleSession(): boolean {
    return this.isEmbedded || this.config.database.singleSession;
  }

  /**
   * Opens the endpoint and returns the pool settings for it. PGlite is one
   * backend session behind its socket: two connections would interleave
   * their extended-protocol messages (one's unnamed statement replacing the
   * other's), so the embedded database gets a pool of exactly one.
   */
  async settings(): Promise<DatabaseSettings> {
    await this.open();
    return this.isSingleSession ? { ...this.config.database, poolSize: 1 } : this.config.database;
  }

  async open(): Promise<string> {
    const { url, dataDir } = this.config.database;
    if (url) {
      this.url = url;
      this.logger.log(`Using PostgreSQL at ${redact(url)}`);
    } else {
      // The pool plus a few connections for readiness checks and the migration lock.
      this.embedded = new EmbeddedPostgres(dataDir, 4);
      this.url = await this.embedded.start();
    }
    return this.url;
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.embedded) return;
    // The pool must be closed before the embedded server goes away, whatever
    // order Nest runs the shutdown hooks in.
    const dataSource = this.moduleRef.get(DataSource, { strict: false });
    if (dataSource?.isInitialized) await dataSource.destroy();
    await this.embedded.stop();
    this.logger.log('Embedded PostgreSQL closed');
  }
}

/** Query parameters of a PostgreSQL URL that hold secrets (pg-connection-string reads them too). */
const SECRET_PARAMETERS = ['password', 'sslpassword', 'sslkey', 'sslcert', 'sslrootcert'];

/** Hides the password of a connection URL in logs, in its userinfo or its query. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const name of [...parsed.searchParams.keys()]) {
      if (SECRET_PARAMETERS.includes(name.toLowerCase())) parsed.searchParams.set(name, '***');
    }
    return parsed.toString();
  } catch {
    return '<unparsable DATABASE_URL>';
  }
}
