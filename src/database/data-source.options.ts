import { DataSourceOptions } from 'typeorm';
import { DatabaseSettings } from '../config/app-config';
import { Agent } from '../agents/entities/agent.entity';
import { PublicKey } from '../agents/entities/public-key.entity';
import { UsedNonce } from '../verification/entities/used-nonce.entity';
import { AuditEvent } from '../audit/entities/audit-event.entity';
import { AuditSeal } from '../audit/entities/audit-seal.entity';
import { migrations } from './migrations';

export const ENTITIES = [Agent, PublicKey, UsedNonce, AuditEvent, AuditSeal];

/**
 * The one set of DataSource options, used by the app (DatabaseModule) and by
 * the TypeORM CLI (ormconfig.ts). Schema changes come from migrations only;
 * the app runs them itself at start, under an advisory lock.
 */
export function buildDataSourceOptions(settings: DatabaseSettings, url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    // Failed queries reach the exception filter, which logs them without
    // their parameters (request data must not land in logs verbatim).
    logging: false,
    // Bounded pool; connect and statement timeouts turn an outage into a
    // fast DATABASE_UNAVAILABLE instead of a hang.
    poolSize: settings.poolSize,
    connectTimeoutMS: settings.connectTimeoutMs,
    extra: {
      max: settings.poolSize,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      // Client-side too: a frozen server cannot enforce its own statement_timeout.
      query_timeout: settings.statementTimeoutMs + 500,
      statement_timeout: settings.statementTimeoutMs,
      idle_in_transaction_session_timeout: settings.statementTimeoutMs * 2,
      application_name: 'vestauth-authority',
      keepAlive: true,
    },
  };
}
