import { Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { buildDataSourceOptions } from './data-source.options';
import { DatabaseEndpoint } from './database-endpoint';
import { DatabaseEndpointModule } from './database-endpoint.module';
import { runMigrationsLocked } from './migration-runner';
import { markSharedSession } from './prepared-query';

@Module({
  imports: [
    DatabaseEndpointModule,
    TypeOrmModule.forRootAsync({
      imports: [DatabaseEndpointModule],
      inject: [AppConfig, DatabaseEndpoint],
      useFactory: async (config: AppConfig, endpoint: DatabaseEndpoint) => ({
        ...buildDataSourceOptions(await endpoint.settings(), endpoint.url),
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
