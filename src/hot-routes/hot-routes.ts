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
import { createValidationPipe } from '../common/http/validation.pipe';
import { PublicKeyBodyDto, type RegisterResponse } from '../registration/dto/register.dto';
import { plainPublicKeyBody } from '../registration/dto/plain-key-body';
import { RegistrationAuditInterceptor, type AuditSubjectRequest } from '../registration/registration-audit.interceptor';
import { RegistrationMetricsInterceptor } from '../registration/registration-metrics.interceptor';
import { RegistrationService } from '../registration/registration.service';
import { plainJsonBodyLength, readJsonBody } from './json-body';

/** Header names and values, alternating, as writeHead takes them. */
type HeaderList = readonly string[];

interface Exchange {
  /** Node's request, whose stream a body is read from. */
  raw: IncomingMessage;
  /** The same request through Express's request API (see expressView). */
  req: SignedRequest & AuditSubjectRequest & { rawBody?: Buffer };
  res: HotResponse;
  /**
   * The route label of the request counter, as Express reports it for the
   * same route; undefined while a body is read (the counter comes after
   * Express's body parser, which lets a registration through to its route
   * even when it refuses the body: registration/body-refusal.ts).
   */
  route: string | undefined;
  requestId: string;
  started: bigint;
}

/** Node's response with the `locals` the access log and the exception filter read. */
type HotResponse = ServerResponse & { locals: Record<string, unknown> };

const WHOAMI_PATH = '/whoami';
const REGISTER_PATH = '/register';
/** What Nest's router gives the global validation pipe for `@Body() body: PublicKeyBodyDto`. */
const REGISTER_BODY = { type: 'body', metatype: PublicKeyBodyDto, data: undefined } as const;

/** The Express app as a request listener, with the prototypes it gives requests and responses. */
type ExpressApp = ((req: IncomingMessage, res: ServerResponse) => void) & { request: object; response: object };

/** As Express's res.json() labels a string body. */
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
const DIRECTORY_TYPE_UTF8 = `${DIRECTORY_CONTENT_TYPE}; charset=utf-8`;

/**
 * The routes every agent and verifier hits on each request, served
 * before Express's router and Nest's per-request pipeline (together ~5x the
 * cost of the work itself): `GET /whoami`, `GET` of the key directory on
 * an agent host, and `POST /register`. Only the plain form is taken here
 * (exact path, no query, no body on the GETs, a plain JSON body within the
 * limit on POST /register, no CORS configured); anything else, including
 * every request this code does not recognise, goes to Express unchanged.
 *
 * Nothing is re-implemented: the request is read through Express's request
 * API (a view, see expressView: `req.ip`, `req.host` and `req.protocol`
 * honour trust proxy exactly as in the Express path), and the same request
 * id, access log, metrics, security headers (recorded from the configured
 * helmet middleware), guard, validation pipe, interceptors' work, services
 * and exception filter are called. The e2e suite runs through this path and through Express for the
 * same routes (`/whoami/`, `/register/`).
 */
export class HotRoutes {
  private readonly whoamiPolicy: SignedAgentOptions;
  private readonly directoryHeaders: readonly string[];
  private readonly validation = createValidationPipe();

  private constructor(
    private readonly express: ExpressApp,
    private readonly config: AppConfig,
    private readonly securityHeaders: HeaderList,
    private readonly logger: Logger,
    private readonly metrics: MetricsService,
    private readonly guard: SignedRequestGuard,
    private readonly discovery: DiscoveryService,
    private readonly errors: ApiExceptionFilter,
    private readonly registration: RegistrationService,
    private readonly registrationAudit: RegistrationAuditInterceptor,
    private readonly registrationMetrics: RegistrationMetricsInterceptor,
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
      app.get(RegistrationService),
      app.get(RegistrationAuditInterceptor),
      app.get(RegistrationMetricsInterceptor),
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
    if (req.method === 'POST') return req.url === REGISTER_PATH && this.takeRegister(req, res);
    if (req.method !== 'GET') return false;
    const route = req.url === WHOAMI_PATH ? WHOAMI_PATH : req.url === WELL_KNOWN_DIRECTORY_PATH ? WELL_KNOWN_DIRECTORY_PATH : undefined;
    if (route === undefined || hasBody(req)) return false;
    const request = this.expressView(req, res);
    // On agent hosts only the directory answers, and the directory only there: those 404s are Express's.
    const host = classifyHost(request, this.config.authority);
    if ((host.kind === 'agent') !== (route === WELL_KNOWN_DIRECTORY_PATH)) return false;
    const exchange = this.exchange(req, request, res, route);
    res.once('finish', () => this.finished(exchange));
    const work = host.kind === 'agent' ? this.directory(exchange, host.uid) : this.whoami(exchange);
    work.catch((error: unknown) => this.fail(error, exchange));
    return true;
  }

  /** POST /register with a plain JSON body, on any host but an agent's (there it is Express's 404). */
  private takeRegister(req: IncomingMessage, res: ServerResponse): boolean {
    const length = plainJsonBodyLength(req, this.config.bodyLimitBytes);
    if (length === undefined) return false;
    const request = this.expressView(req, res);
    if (classifyHost(request, this.config.authority).kind === 'agent') return false;
    const exchange = this.exchange(req, request, res, undefined);
    res.once('finish', () => this.finished(exchange));
    this.register(exchange, length).catch((error: unknown) => this.fail(error, exchange));
    return true;
  }

  /**
   * What the Express path does: body parser (raw body kept), then inside
   * the registration interceptors the validation pipe (the plain body that
   * clients send is recognised without it, to the same result) and the
   * service; a refusal, the body parser's included (body-refusal.ts), is
   * audited and timed as the interceptors do.
   */
  private async register(exchange: Exchange, length: number): Promise<void> {
    const { req } = exchange;
    const body = await readJsonBody(exchange.raw, length).catch((error: unknown) => ({ refused: error }));
    // Routed now (Express counts a refused body on this route too, see body-refusal.ts).
    exchange.route = REGISTER_PATH;
    const started = process.hrtime.bigint();
    let result: RegisterResponse;
    try {
      // As the route's interceptor does: the budget before the body's fate.
      this.registration.admit(req);
      if ('refused' in body) throw body.refused;
      req.rawBody = body.raw;
      req.body = body.value;
      const dto = plainPublicKeyBody(body.value) ?? ((await this.validation.transform(body.value, REGISTER_BODY)) as PublicKeyBodyDto);
      result = await this.registration.register(req, dto.public_jwk);
    } catch (error) {
      await this.registrationAudit.recordRefusal(req, 'register', error);
      this.registrationMetrics.observe('register', 'failure', started);
      throw error;
    }
    this.registrationMetrics.observe('register', 'success', started);
    this.send(exchange, JSON_CONTENT_TYPE, JSON.stringify(result), []);
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

  /**
   * Errors go through the app's exception filter, with the headers the
   * Express path would have set before it. The filter answers with
   * Express's response API, so only here does the response get Express's
   * response prototype (as Express gives it to every response).
   */
  private fail(error: unknown, { req, res, requestId }: Exchange): void {
    try {
      if (res.headersSent) throw error;
      res.setHeader('X-Request-Id', requestId);
      for (let i = 0; i < this.securityHeaders.length; i += 2) res.setHeader(this.securityHeaders[i], this.securityHeaders[i + 1]);
      const response = Object.setPrototypeOf(res, this.express.response) as Response;
      response.req = req;
      this.errors.respond(error, req, response);
    } catch (respondError) {
      // Only a bug gets here: never leave the socket hanging.
      this.logger.error({ err: respondError, req: { id: requestId } }, 'hot route: could not send a response');
      res.destroy();
    }
  }

  /** What the Express path does when a response finishes: the access line and the request counter. */
  private finished({ req, res, route, started }: Exchange): void {
    logAccess(this.logger, req, res as unknown as Response, started);
    if (route !== undefined) this.metrics.httpRequests.inc({ route, method: req.method, status: String(res.statusCode) });
  }

  private exchange(raw: IncomingMessage, req: Request, res: ServerResponse, route: string | undefined): Exchange {
    const response = res as HotResponse;
    response.locals = Object.create(null) as Record<string, unknown>;
    return { raw, req, res: response, route, requestId: takeRequestId(raw), started: process.hrtime.bigint() };
  }

  /**
   * The request through Express's request API (`req.ip`, `req.host`,
   * `req.protocol`, `req.path`, `req.get`, honouring trust proxy exactly as
   * in the Express path): a new object whose prototype is the app's request
   * prototype, over Node's request's headers, method, url and socket.
   *
   * Express instead changes the prototype of Node's request and response
   * (Object.setPrototypeOf) on every request. That is what costs: V8 then
   * keeps the objects of in-flight requests past young-generation
   * collections (measured on a bare Node server under autocannon: 452k
   * requests in 6 s unchanged, 134k with both prototypes changed, 421k
   * with this view; ~2.5 MB promoted per scavenge instead of none, a full
   * collection every ~0.6 s). Node's own objects are left untouched, so a
   * request handed to Express is exactly as Express expects it.
   */
  private expressView(req: IncomingMessage, res: ServerResponse): Request {
    // (IncomingMessage's `connection`, which Express's req.protocol reads, is a getter of `socket`.)
    const view = Object.create(this.express.request) as Request;
    view.headers = req.headers;
    view.method = req.method!;
    view.url = req.url!;
    view.originalUrl = req.url ?? '/';
    view.socket = req.socket;
    view.res = res as Response;
    return view;
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
