import { LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { requestIdMiddleware } from '../../src/common/http/request-id.middleware';
import type { VerificationModuleOptions } from '../../src/verification/verification.module';
import { InternalApiModule } from './internal-api.module';

export interface InternalApiAppOptions {
  logger?: LoggerService | LogLevel[] | false;
  /** JSON body limit; the raw bytes are kept for content-digest. Default 64 KiB. */
  bodyLimit?: string | number;
}

/**
 * Creates the example API, configured but not listening: main.ts and the
 * e2e test start it the same way.
 */
export async function createInternalApi(
  verification: VerificationModuleOptions,
  options: InternalApiAppOptions = {},
): Promise<NestExpressApplication> {
  // rawBody: content-digest is checked against the bytes received, not the
  // parsed JSON; bodyParser off so the limit below is the only one.
  const app = await NestFactory.create<NestExpressApplication>(InternalApiModule.forRoot(verification), {
    rawBody: true,
    bodyParser: false,
    logger: options.logger,
    abortOnError: false,
  });
  app.use(requestIdMiddleware);
  app.useBodyParser('json', { limit: options.bodyLimit ?? 64 * 1024 });
  app.disable('x-powered-by');
  // Express's 'trust proxy' stays off: the @authority a signature covers is
  // then the Host this process received. Behind a proxy that rewrites Host,
  // enable it and list the public host in acceptedAuthorities.
  return app;
}
