import { Global, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { AppConfig } from '../config/app-config';
import { createRootLogger } from './pino-logger';

/** The root pino logger as a provider (bootstrap wires it into Nest and the access log). */
export abstract class RootLogger {
  abstract readonly logger: Logger;
}

@Global()
@Module({
  providers: [{ provide: RootLogger, inject: [AppConfig], useFactory: (config: AppConfig) => ({ logger: createRootLogger(config) }) }],
  exports: [RootLogger],
})
export class LoggingModule {}
