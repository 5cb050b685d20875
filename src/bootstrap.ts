import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import helmet from 'helmet';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Server } from 'node:http';
import type { Express } from 'express';
import { AppConfig } from './config/app-config';
import { AppModule } from './app.module';
import { requestIdMiddleware } from './common/http/request-id.middleware';
import { accessLogMiddleware } from './logging/access-log.middleware';
import { RootLogger } from './logging/logging.module';
import { createRootLogger, PinoNestLogger } from './logging/pino-logger';
import { setupOpenApi } from './common/http/openapi';
import { HotRoutes, headersSetBy } from './hot-routes/hot-routes';
import { holdRegistrationBodyRefusal, markRegistrationRoute, refuseUnreadRegistrationBody } from './registration/body-refusal';
import { REGISTRATION_ROUTES } from './registration/registration.controller';

/** Options every instance of the app is created with (main.ts and the tests alike). */
export const APP_OPTIONS = { rawBody: true, bodyParser: false } as const;

/** Creates the authority app, configured but not listening. */
export async function createApp(config: AppConfig): Promise<NestExpressApplication> {
  // Nest's own log lines go through pino too (structured, one format), from the first: not buffered
  // until the app is up, so that a start waiting for the database or the migration lock says so as it happens.
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    ...APP_OPTIONS,
    logger: new PinoNestLogger(createRootLogger(config)),
    abortOnError: false,
  });
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
  express.use(accessLogMiddleware(app.get(RootLogger).logger));
  // Security headers; CORS stays closed unless CORS_ORIGINS names origins.
  const securityHeaders = helmet({
    // upgrade-insecure-requests would break every asset of a plain-http deployment (the docs UI).
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: config.publicUrl.protocol === 'https:' ? [] : null } },
  });
  express.use(securityHeaders);
  if (config.corsOrigins.length > 0) express.enableCors({ origin: [...config.corsOrigins], methods: ['GET', 'POST'], maxAge: 600 });
  // A body refused on /register or /rotate is audited like any refused
  // registration: marked by route layers that match as the handlers' own
  // routes do (same router, same paths), held after the parser, raised by
  // the route's interceptors (registration/body-refusal.ts).
  const router = express.getHttpAdapter().getInstance() as Express;
  for (const route of Object.values(REGISTRATION_ROUTES)) router.post(`/${route}`, markRegistrationRoute);
  express.useBodyParser('json', { limit: config.bodyLimitBytes, type: ['application/json', 'application/*+json'] });
  express.use(refuseUnreadRegistrationBody);
  express.use(holdRegistrationBodyRefusal);
  express.set('trust proxy', config.trustProxy);
  express.disable('x-powered-by');
  express.set('etag', false);
  const server = app.getHttpServer() as Server;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  server.maxHeadersCount = 100;
  // Connections left open once the server stops listening: src/health/graceful-shutdown.ts.
  setupOpenApi(app, config);
  // GET /whoami and the key directory skip Express's router and Nest's pipeline (same code, same answers).
  HotRoutes.install(app, config, headersSetBy(securityHeaders));
  // process.exit(0) once closed: Nest's default re-raises the signal, so an
  // orderly stop would look like a crash (exit 143) to Docker and Kubernetes.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
}
