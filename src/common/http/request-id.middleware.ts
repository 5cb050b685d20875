import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Gives every request an id: the caller's `X-Request-Id` when it is short
 * and plain, a new UUID otherwise. It is echoed in the response header and
 * recorded in audit events and logs.
 */
export function requestIdMiddleware(req: Request, res: Response, next: NextFunction): void {
  res.setHeader('X-Request-Id', takeRequestId(req));
  next();
}

/** The request's id, recorded in its headers; the caller puts it on the response (the hot routes, hot-routes.ts, write it with the rest). */
export function takeRequestId(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
  req.headers['x-request-id'] = id;
  return id;
}

export function requestIdOf(req: Request): string {
  const id = req.headers['x-request-id'];
  return typeof id === 'string' ? id : '';
}
