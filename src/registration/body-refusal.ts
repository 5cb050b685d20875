import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { errorBodyOf, UNREAD_MEDIA_TYPE } from '../common/filters/api-exception.filter';

/**
 * A register or rotate whose body the JSON parser refuses (INVALID_JSON,
 * PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, …) is a refused registration
 * like any other and gets its audit row (DESIGN.md section 3). On the
 * Express path the parser runs before the router, so its refusal is held on
 * the request and raised by the registration interceptors once Express has
 * routed the request to its handler: the handler, not the path, says
 * whether it was a register or a rotate. The hot route reads its own body
 * and hands the refusal to the same audit (src/hot-routes).
 */

/** Set on requests Express routes to a registration handler (markRegistrationRoute). */
const REGISTRATION_ROUTE = Symbol('registration route');
/** The parser's refusal, held for the handler's interceptors. */
const HELD_REFUSAL = Symbol('held body refusal');

type HoldingRequest = Request & { [REGISTRATION_ROUTE]?: true; [HELD_REFUSAL]?: unknown };

/**
 * The code the exception filter answers a body parser's refusal with
 * (body-parser's errors and the hot route's BodyReadError carry its `type`;
 * a body that does not decompress is an http-errors error with a status
 * only), or undefined for anything else, server errors included.
 */
export function bodyRefusalCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const fields = error as { type?: unknown; status?: unknown; statusCode?: unknown };
  if (typeof fields.type !== 'string' && typeof fields.status !== 'number' && typeof fields.statusCode !== 'number') return undefined;
  const { status, code } = errorBodyOf(error).error;
  return status < 500 ? code : undefined;
}

/** Route-level middleware on the registration routes, installed before the body parser. */
export const markRegistrationRoute: RequestHandler = (req, _res, next) => {
  (req as HoldingRequest)[REGISTRATION_ROUTE] = true;
  next();
};

/**
 * Right after the body parser: a body on a registration route that no
 * parser read (a media type other than JSON) is refused 415, not validated
 * as an empty object (which answered 400 "public_jwk is required" to a
 * client whose mistake was its Content-Type).
 */
export const refuseUnreadRegistrationBody: RequestHandler = (req, _res, next) => {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  // The JSON parser (strict: an object or an array) sets req.body only when it read the body.
  if ((req as HoldingRequest)[REGISTRATION_ROUTE] === true && hasBody && req.body === undefined) {
    next(Object.assign(new Error('unsupported content type'), { status: 415, expose: true, type: UNREAD_MEDIA_TYPE }));
    return;
  }
  next();
};

/**
 * Error middleware right after the body parser: on a registration route
 * the refusal is held and routing goes on; anything else goes to the
 * exception filter as before. The parser has read off (and discarded) or
 * never read the body: nothing is buffered past its limit.
 */
export const holdRegistrationBodyRefusal: ErrorRequestHandler = (error, req, _res, next) => {
  const holding = req as HoldingRequest;
  if (holding[REGISTRATION_ROUTE] !== true || bodyRefusalCode(error) === undefined) {
    next(error);
    return;
  }
  holding[HELD_REFUSAL] = error;
  next();
};

/** The refusal held for this request, if any (then there is no body to validate). */
export function heldBodyRefusal(req: Request): { error: unknown } | undefined {
  const holding = req as HoldingRequest;
  return HELD_REFUSAL in holding ? { error: holding[HELD_REFUSAL] } : undefined;
}
