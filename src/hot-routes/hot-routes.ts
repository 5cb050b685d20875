import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { ApiExceptionFilter } from '../common/filters/api-exception.filter';
import { takeRequestId } from '../common/http/request-id.middleware';
import { AppConfig } from '../config/app-config';
import { classifyHost } from '../discovery/agent-host';
import { DIRECTORY_CONTENT_TYPE } from '../discovery/discovery.controller';
import { DiscoveryService } from '../discovery/discovery.service';
import { logAccess } from '../logging/access-log.middleware';
import { RootLogger } from '../logging/logging.module';
import { MetricsService } from '../metrics/metrics.service';
import { WELL_KNOWN_DIRECTORY_PATH } from '../verification/key-resolver';
import { SignedAgentPolicy } from '../verification/signed-agent.decorator';
import { SignedRequest, SignedRequestGuard } from '../verification/signed-request.guard';
import type { SignedAgentOptions } from '../verification/verified-agent';
import { toWhoami, WhoamiController } from '../verification/whoami.controller';

/** Header names and values, alternating, as writeHead takes them. */
type HeaderList = readonly string[];

interface Exchange {
  req: SignedRequest;
  res: Response;
  /** The route label of the metrics, as Express reports it for the same route. */
  route: string;
  requestId: string;
  started: bigint;
}

const WHOAMI_PATH = '/whoami';

/** The Express app as a request listener, with the prototypes it gives requests and responses. */
type ExpressApp = ((req: IncomingMessage, res: ServerResponse) => void) & { request: object; response: object };

/** As Express's res.json() labels a string body. */
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
const DIRECTORY_TYPE_UTF8 = `${DIRECTORY_CONTENT_TYPE}; charset=utf-8`;

/**
 * The two routes every agent and verifier hits on each request, served
 * before Express's router and Nest's per-request pipeline (together ~5x the
 * cost of the work itself): `GET /whoami` and `GET` of the key directory on
 * an agent host. Only the plain form is taken here (exact path, no query,
 * no body, no CORS configured); anything else, including every
 * request this code does not recognise, goes to Express unchanged.
 *
 * Nothing is re-implemented: the request gets Express's request prototype
 * (so `req.ip`, `req.host` and `req.protocol` honour trust proxy exactly as
 * in the Express path), and the same request id, access log, metrics,
 * security headers (recorded from the configured helmet middleware), guard,
 * services and exception filter are called. The e2e suite runs through
 * this path and through Express for the same routes (`/whoami/`).
 */
export class HotRoutes {
  private readonly whoamiPolicy: SignedAgentOptions;
  private readonly directoryHeaders: readonly string[];

  private constructor(
    private readonly express: ExpressApp,
    private readonly config: AppConfig,
    private readonly securityHeaders: HeaderList,
    private readonly logger: Logger,
    private readonly metrics: MetricsService,
    private readonly guard: SignedRequestGuard,
    private readonly discovery: DiscoveryService,
    private readonly errors: ApiExceptionFilter,
    reflector: Reflector,
  ) {
    this.directoryHeaders = ['Cache-Control', `max-age=${config.directoryMaxAgeSeconds}`];
    this.whoamiPolicy =
      reflector.getAllAndOverride(SignedAgentPolicy, [WhoamiController.prototype.get, WhoamiController]) ?? {};
  }

  /**
   * Puts the hot routes in front of the Express app on the app's HTTP
   * server. Not with CORS_ORIGINS: the cors middleware then shapes every
   * answer (Vary: Origin even without an Origin) and stays the one place
   * that decides them.
   */
  static install(app: INestApplication, config: AppConfig, securityHeaders: HeaderList): HotRoutes | undefined {
    if (config.corsOrigins.length > 0) return undefined;
    const express = app.getHttpAdapter().getInstance() as ExpressApp;
    const hot = new HotRoutes(
      express,
      config,
      securityHeaders,
      app.get(RootLogger).logger,
      app.get(MetricsService),
      app.get(SignedRequestGuard),
      app.get(DiscoveryService),
      new ApiExceptionFilter(),
      app.get(Reflector),
    );
    const server = app.getHttpServer() as Server;
    if (!server.listeners('request').includes(express)) {
      throw new Error('HotRoutes.install: the HTTP server does not dispatch to the Express app');
    }
    server.removeListener('request', express);
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      let taken = false;
      try {
        taken = hot.take(req, res);
      } catch (error) {
        // take() throws only before it starts any work (a bug): Express then serves the request as it would anyway.
        hot.logger.error({ err: error }, 'hot route: could not take a request; Express serves it');
      }
      if (!taken) express(req, res);
    });
    return hot;
  }

  /** Serves the request if it is one of the hot routes in its plain form; false leaves it to Express untouched. */
  private take(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET') return false;
    const route = req.url === WHOAMI_PATH ? WHOAMI_PATH : req.url === WELL_KNOWN_DIRECTORY_PATH ? WELL_KNOWN_DIRECTORY_PATH : undefined;
    if (route === undefined || hasBody(req)) return false;
    const request = this.asExpress(req, res);
    // On agent hosts only the directory answers, and the directory only there: those 404s are Express's.
    // (Express's app.handle repeats asExpress's steps to the same effect, so a request handed over is as it expects.)
    const host = classifyHost(request, this.config.authority);
    if ((host.kind === 'agent') !== (route === WELL_KNOWN_DIRECTORY_PATH)) return false;
    const exchange: Exchange = { req: request, res: res as Response, route, requestId: takeRequestId(req), started: process.hrtime.bigint() };
    res.once('finish', () => this.finished(exchange));
    const work = host.kind === 'agent' ? this.directory(exchange, host.uid) : this.whoami(exchange);
    work.catch((error: unknown) => this.fail(error, exchange));
    return true;
  }

  private async whoami(exchange: Exchange): Promise<void> {
    const agent = await this.guard.verifyRequest(exchange.req, this.whoamiPolicy);
    this.send(exchange, JSON_CONTENT_TYPE, JSON.stringify(toWhoami(agent)), []);
  }

  private async directory(exchange: Exchange, uid: string): Promise<void> {
    this.send(exchange, DIRECTORY_TYPE_UTF8, await this.discovery.directoryJson(uid), this.directoryHeaders);
  }

  /** 200 with every header in one writeHead: the security headers, request id, type, length and the route's own. */
  private send(exchange: Exchange, contentType: string, body: string, extra: readonly string[]): void {
    exchange.res.writeHead(200, [
      ...this.securityHeaders,
      'X-Request-Id',
      exchange.requestId,
      'Content-Type',
      contentType,
      'Content-Length',
      String(Buffer.byteLength(body)),
      ...extra,
    ]);
    exchange.res.end(body);
  }

  /** Errors go through the app's exception filter, with the headers the Express path would have set before it. */
  private fail(error: unknown, { req, res, requestId }: Exchange): void {
    try {
      if (res.headersSent) throw error;
      res.setHeader('X-Request-Id', requestId);
      for (let i = 0; i < this.securityHeaders.length; i += 2) res.setHeader(this.securityHeaders[i], this.securityHeaders[i + 1]);
      this.errors.respond(error, req, res);
    } catch (respondError) {
      // Only a bug gets here: never leave the socket hanging.
      this.logger.error({ err: respondError, req: { id: requestId } }, 'hot route: could not send a response');
      res.destroy();
    }
  }

  /** What the Express path does when a response finishes: the access line and the request counter. */
  private finished({ req, res, route, started }: Exchange): void {
    logAccess(this.logger, req, res, started);
    this.metrics.httpRequests.inc({ route, method: 'GET', status: String(res.statusCode) });
  }

  /** What Express's app.handle does before routing: its request and response prototypes, locals, originalUrl. */
  private asExpress(req: IncomingMessage, res: ServerResponse): Request {
    const request = req as Request;
    const response = res as Response;
    request.res = response;
    response.req = request;
    Object.setPrototypeOf(request, this.express.request);
    Object.setPrototypeOf(response, this.express.response);
    response.locals = Object.create(null) as Record<string, unknown>;
    request.originalUrl = req.url ?? '/';
    return request;
  }
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * The headers a middleware sets on every response (helmet's are static for
 * a given configuration), recorded once at start so that the hot routes
 * send exactly what the Express path sends.
 */
export function headersSetBy(middleware: Middleware): HeaderList {
  const headers = new Map<string, string>();
  let done = false;
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => headers.set(name, String(value)),
    removeHeader: (name: string) => headers.delete(name),
  };
  middleware({ headers: {}, method: 'GET', url: '/' } as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error instanceof Error ? error : new Error(String(error));
    done = true;
  });
  if (!done) throw new Error('headersSetBy: the middleware did not finish synchronously');
  return [...headers].flat();
}
