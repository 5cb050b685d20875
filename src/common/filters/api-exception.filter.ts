import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DomainError } from '../errors/domain-error';
import { ERROR_STATUS, ErrorCode } from '../errors/error-code';
import { isDatabaseUnavailable } from './database-errors';
import { RateLimitedError } from '../rate-limit/rate-limit.service';

export interface ErrorBody {
  error: { status: number; code: string; message: string; help?: string };
}

/** The `type` of the error for a body no parser read (registration/body-refusal.ts), as body-parser's errors carry one. */
export const UNREAD_MEDIA_TYPE = 'media.type.unread';

/** Codes for Nest's and Express's own HTTP errors, by status. */
const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'MISSING_SIGNATURE',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  431: 'HEADERS_TOO_LARGE',
  503: 'DATABASE_UNAVAILABLE',
};

const MESSAGE_BY_CODE: Partial<Record<ErrorCode, string>> = {
  NOT_FOUND: 'not found',
  PAYLOAD_TOO_LARGE: 'request body too large',
  DATABASE_UNAVAILABLE: 'database unavailable',
  INTERNAL: 'internal error',
  INVALID_JSON: 'request body is not valid JSON',
  UNSUPPORTED_MEDIA_TYPE: 'unsupported content type',
};

/**
 * The one place errors become HTTP responses, always
 * `{"error":{"status","code","message","help?"}}`. Nothing internal (stack,
 * SQL, driver text) reaches the client; 5xx are logged once, here.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(ApiExceptionFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    this.respond(exception, ctx.getRequest<Request>(), ctx.getResponse<Response>());
  }

  /** Answers with the error; the hot routes (hot-routes.ts) call it directly. */
  respond(exception: unknown, request: Request, response: Response): void {
    // Logged where it was made (toCodedHttpException).
    const logged = exception instanceof CodedHttpException;
    if (exception instanceof CodedHttpException) exception = exception.cause;
    const body = this.toBody(exception, request);
    if (body.error.status >= 500 && !logged) {
      logServerError(this.logger, exception, body, request);
    }
    // For the access log line (logging.module.ts).
    response.locals.errorCode = body.error.code;
    if (response.headersSent) {
      response.destroy();
      return;
    }
    setRetryAfter(exception, body, response);
    response.status(body.error.status).json(body);
  }

  toBody(exception: unknown, request?: Request): ErrorBody {
    return errorBodyOf(exception, request);
  }

}

/**
 * An outage answers every request 503: its cause is logged once per this
 * period, with the count of the others. Requests and readiness probes are
 * sampled apart, so that probes (every few seconds, from every balancer)
 * never hide the cause the requests met.
 */
const UNAVAILABLE_LOG_PERIOD_MS = 10_000;
const unavailable = { requests: { loggedAt: -Infinity, since: 0 }, probes: { loggedAt: -Infinity, since: 0 } };

function logServerError(logger: Logger, exception: unknown, body: ErrorBody, request: Request): void {
  const where = `${request.method} ${request.path} request_id=${String(request.headers['x-request-id'] ?? '-')}`;
  if (body.error.code === 'DATABASE_UNAVAILABLE') {
    // Not the database's own error: a 503 of Nest's (Terminus' failed readiness check, whose body names the cause).
    const probe = !isDatabaseUnavailable(exception) && exception instanceof HttpException;
    const sampler = probe ? unavailable.probes : unavailable.requests;
    const now = performance.now();
    if (now - sampler.loggedAt < UNAVAILABLE_LOG_PERIOD_MS) {
      sampler.since++;
      return;
    }
    const others = sampler.since > 0 ? ` (and ${sampler.since} other ${probe ? 'probe' : 'request'}(s) answered 503 since the last such line)` : '';
    sampler.loggedAt = now;
    sampler.since = 0;
    const cause = probe ? healthCheckCause(exception) : ((exception as Error)?.message ?? String(exception));
    logger.warn(`${where}: ${probe ? 'health check failed' : 'database unavailable'}: ${cause}${others}; logged at most every ${UNAVAILABLE_LOG_PERIOD_MS / 1000} s`);
    return;
  }
  const stack = exception instanceof Error ? exception.stack : String(exception);
  logger.error(`${where}: ${body.error.code}`, stack);
}

/** DESIGN.md's error body for any exception (the 500 body for one that is not a client's mistake). */
export function errorBodyOf(exception: unknown, request?: Request): ErrorBody {
  if (exception instanceof DomainError) {
    return build(exception.status, exception.code, exception.message, exception.help);
  }
  if (isDatabaseUnavailable(exception)) {
    return fromCode('DATABASE_UNAVAILABLE');
  }
  // Express wraps body-parser's errors in an HttpException; the cause says which.
  const bodyParserError = fromBodyParserError(exception instanceof HttpException ? exception.cause : exception);
  if (bodyParserError) return bodyParserError;
  if (exception instanceof HttpException) {
    return fromHttpException(exception, request);
  }
  return fromCode('INTERNAL');
}

/** What a failed Terminus check says of each failed indicator (`database: connection timeout`), or the exception's message. */
function healthCheckCause(exception: HttpException): string {
  const response = exception.getResponse() as { status?: unknown; error?: Record<string, { message?: unknown; status?: unknown }> };
  if (response?.status === 'shutting_down') return 'shutting down';
  const failed = Object.entries(response?.error ?? {}).map(([name, result]) => `${name}: ${typeof result?.message === 'string' ? result.message : String(result?.status ?? 'down')}`);
  return failed.length > 0 ? failed.join('; ').slice(0, 300) : exception.message;
}

/**
 * A coded error as Nest's own HttpException, thrown by the @SignedAgent()
 * guard, so that an app without ApiExceptionFilter (an internal API using
 * VerificationModule.forRoot) answers with the status and DESIGN.md's error
 * body through any exception filter, Nest's default included. `cause` is
 * the original error; ApiExceptionFilter answers from it.
 */
export class CodedHttpException extends HttpException {
  constructor(override readonly cause: unknown, body: ErrorBody) {
    super(body, body.error.status, { cause, errorCode: body.error.code });
    // What the client is told, for the app's own filters and logs (Nest's default would be "Coded Http Exception").
    this.message = body.error.message;
  }
}

const guardLogger = new Logger('SignedRequestGuard');

/**
 * `error` as a CodedHttpException when it is a client's or the database's
 * (coded) error, with its Retry-After header set on `response`, and a 5xx
 * logged here (an app's default filter logs no HttpException); anything
 * else (a bug: 500) is left to the app's own filters as it is.
 */
export function toCodedHttpException(error: unknown, request: Request, response: Response): unknown {
  const body = errorBodyOf(error);
  if (body.error.code === 'INTERNAL' || response.headersSent) return error;
  if (body.error.status >= 500) logServerError(guardLogger, error, body, request);
  setRetryAfter(error, body, response);
  return new CodedHttpException(error, body);
}

function setRetryAfter(exception: unknown, body: ErrorBody, response: Response): void {
  if (body.error.code === 'DATABASE_UNAVAILABLE') response.setHeader('Retry-After', '5');
  if (exception instanceof RateLimitedError) response.setHeader('Retry-After', String(exception.retryAfterSeconds));
}

function build(status: number, code: string, message: string, help?: string): ErrorBody {
  return { error: help ? { status, code, message, help } : { status, code, message } };
}

function fromCode(code: ErrorCode): ErrorBody {
  return build(ERROR_STATUS[code], code, MESSAGE_BY_CODE[code] ?? code.toLowerCase().replace(/_/g, ' '));
}

function fromHttpException(exception: HttpException, request?: Request): ErrorBody {
  const status = exception.getStatus();
  if (status === HttpStatus.NOT_FOUND) {
    return build(404, 'NOT_FOUND', request ? `no route for ${request.method} ${request.path.slice(0, 200)}` : 'not found');
  }
  const code = CODE_BY_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'VALIDATION_FAILED');
  const message = status >= 500 ? (MESSAGE_BY_CODE[code] ?? 'internal error') : exception.message.slice(0, 300);
  return build(status >= 500 ? ERROR_STATUS[code] : status, code, message);
}

/** Errors raised by body-parser before the request reaches Nest's pipeline. */
function fromBodyParserError(exception: unknown): ErrorBody | undefined {
  if (typeof exception !== 'object' || exception === null) return undefined;
  const e = exception as { type?: unknown; status?: unknown; expose?: unknown; code?: unknown };
  switch (e.type) {
    case 'entity.too.large':
      return fromCode('PAYLOAD_TOO_LARGE');
    case 'entity.parse.failed':
    case 'entity.verify.failed':
      return fromCode('INVALID_JSON');
    case 'encoding.unsupported':
    case 'charset.unsupported':
    case UNREAD_MEDIA_TYPE:
      return fromCode('UNSUPPORTED_MEDIA_TYPE');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'parameters.too.many':
      return build(400, 'VALIDATION_FAILED', 'malformed request body');
    default:
      // A client error of body-parser's without a type (http-errors, `expose`): a body that does not decompress.
      if (typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true) {
        const inflate = typeof e.code === 'string' && e.code.startsWith('Z_');
        return build(e.status, CODE_BY_STATUS[e.status] ?? 'VALIDATION_FAILED', inflate ? 'request body could not be decompressed' : 'malformed request body');
      }
      return undefined;
  }
}
