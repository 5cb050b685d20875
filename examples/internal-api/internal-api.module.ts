import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { ApiExceptionFilter } from '../../src/common/filters/api-exception.filter';
import { createValidationPipe } from '../../src/common/http/validation.pipe';
import { VerificationModule, VerificationModuleOptions } from '../../src/verification/verification.module';
import { ReportsController } from './reports.controller';
import { ReportsService } from './reports.service';

/**
 * An internal API of the company: no database, no keys of its own. The
 * Verification module fetches each calling agent's keys from the
 * authority's published directory; the same filter as the authority gives
 * every error the `{"error":{status,code,message}}` body agents already parse.
 */
@Module({})
export class InternalApiModule {
  static forRoot(verification: VerificationModuleOptions): DynamicModule {
    return {
      module: InternalApiModule,
      imports: [VerificationModule.forRoot(verification)],
      controllers: [ReportsController],
      providers: [
        ReportsService,
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        { provide: APP_PIPE, useFactory: createValidationPipe },
      ],
    };
  }
}
