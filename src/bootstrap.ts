import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import helmet from 'helmet';
import { Logger as PinoLogger } from 'nestjs-pino';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Server } from 'node:http';
import { AppConfig } from './config/app-config';
import { AppModule } from './app.module';
import { requestIdMiddleware } from './common/http/request-id.middleware';
import { setupOpenApi } from './common/http/openapi';

/** Options every instance of the app is created with (main.ts and the tests alike). */
export const APP_OPTIONS = { rawBody: true, bodyParser: false } as const;

/** Creates the authority app, configured but not listening. */
export async function createApp(config: AppConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    ...APP_OPTIONS,
    bufferLogs: true,
    abortOnError: false,
  });
  // Nest's own log lines go through pino too (structured, one format).
  app.useLogger(app.get(PinoLogger));
  configureApp(app, config);
  return app;
}

/**
 * HTTP settings that are not module wiring: body limit (raw body kept for
 * content-digest), trust proxy, server timeouts against slow clients, and
 * graceful shutdown on SIGTERM/SIGINT.
 */
export function configureApp(app: INestApplication, config: AppConfig): void {
  const express = app as NestExpressApplication;
  // First, so that even body-parser errors carry a request id.
  express.use(requestIdMiddleware);
  // Security headers; CORS stays closed unless CORS_ORIGINS names origins.
  express.use(helmet());
  if (config.corsOrigins.length > 0) express.enableCors({ origin: [...config.corsOrigins], methods: ['GET', 'POST'], maxAge: 600 });
  express.useBodyParser('json', { limit: config.bodyLimitBytes, type: ['application/json', 'application/*+json'] });
  express.set('trust proxy', config.trustProxy);
  express.disable('x-powered-by');
  express.set('etag', false);
  const server = app.getHttpServer() as Server;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  server.maxHeadersCount = 100;
  setupOpenApi(app, config);
  // process.exit(0) once closed: Nest's default re-raises the signal, so an
  // orderly stop would look like a crash (exit 143) to Docker and Kubernetes.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
}
