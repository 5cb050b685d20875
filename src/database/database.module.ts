import { Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig, DatabaseSettings } from '../config/app-config';
import { ConfigValidationError } from '../config/env.validation';
import { buildDataSourceOptions } from './data-source.options';
import { DatabaseEndpoint } from './database-endpoint';
import { DatabaseEndpointModule } from './database-endpoint.module';
import { runMigrationsLocked } from './migration-runner';
import { markSharedSession } from './prepared-query';

/**
 * The endpoint's settings. A DATA_DIR that cannot be made private (another
 * user's, or on a file system without POSIX modes) is an operator's mistake
 * found only when the embedded database opens, after the configuration was
 * loaded: it stops the process as main.ts stops the other configuration
 * errors, one line and exit 78 (EX_CONFIG), before anything else starts.
 */
async function settingsOrExit(endpoint: DatabaseEndpoint): Promise<DatabaseSettings> {
  try {
    return await endpoint.settings();
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(78); // EX_CONFIG
  }
}

@Module({
  imports: [
    DatabaseEndpointModule,
    TypeOrmModule.forRootAsync({
      imports: [DatabaseEndpointModule],
      inject: [AppConfig, DatabaseEndpoint],
      useFactory: async (config: AppConfig, endpoint: DatabaseEndpoint) => ({
        ...buildDataSourceOptions(await settingsOrExit(endpoint), endpoint.url),
        // A few quick attempts, then the process stops with a clear log line.
        retryAttempts: 5,
        retryDelay: 2000,
      }),
      dataSourceFactory: async (options) => {
        const dataSource = await new DataSource(options!).initialize();
        await runMigrationsLocked(dataSource);
        return dataSource;
      },
    }),
  ],
  exports: [DatabaseEndpointModule],
})
export class DatabaseModule implements OnModuleInit {
  constructor(
    private readonly dataSource: DataSource,
    private readonly endpoint: DatabaseEndpoint,
  ) {}

  onModuleInit(): void {
    // PGlite is one session; in the tests several apps share it, and a named statement of one would collide with another's.
    if (this.endpoint.isSingleSession) markSharedSession(this.dataSource);
  }
}
