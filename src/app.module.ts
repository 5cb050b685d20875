import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { ApiExceptionFilter } from './common/filters/api-exception.filter';
import { createValidationPipe } from './common/http/validation.pipe';
import { HealthModule } from './health/health.module';
import { RateLimitModule } from './common/rate-limit/rate-limit.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { MetricsCollectors } from './metrics/metrics-collectors';
import { AgentsModule } from './agents/agents.module';
import { AuditModule } from './audit/audit.module';
import { VerificationModule } from './verification/verification.module';
import { RegistrationModule } from './registration/registration.module';
import { DiscoveryModule } from './discovery/discovery.module';

/**
 * The authority. Built from an already validated AppConfig so that main.ts
 * and the tests decide where configuration comes from.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule,
        MetricsModule,
        DatabaseModule,
        RateLimitModule,
        HealthModule,
        AgentsModule,
        AuditModule,
        VerificationModule.forAuthority(),
        RegistrationModule,
        DiscoveryModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        MetricsCollectors,
      ],
    };
  }
}
