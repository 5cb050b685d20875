import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';

const QUIET_PATHS = new Set(['/health/live', '/health/ready', '/metrics']);

type LoggedRequest = Request & { verifiedAgent?: { uid: string } };

/**
 * One line per request when it finishes: request id, method, path (never the
 * query), status, duration, agent uid and error code; never headers,
 * signatures, nonces, bodies or keys. Levels: 500 at error; 503 (the
 * database is unavailable, said once per period with its cause by the
 * exception filter) and other 4xx at warn; 429 at info, as a flood of them
 * is the rate limiter working (it says so itself, once a minute per client);
 * the rest at info. Nothing is built at all for a level that is off (hot path).
 */
export function accessLogMiddleware(logger: Logger) {
  return (req: LoggedRequest, res: Response, next: NextFunction): void => {
    logAccessOnFinish(logger, req, res);
    next();
  };
}

/** The middleware's work, shared with the hot routes (hot-routes.ts), which run before Express. */
export function logAccessOnFinish(logger: Logger, req: LoggedRequest, res: Response): void {
  const started = process.hrtime.bigint();
  res.once('finish', () => logAccess(logger, req, res, started));
}

/** The access line of a finished response that was started at `started` (process.hrtime.bigint()). */
export function logAccess(logger: Logger, req: LoggedRequest, res: Response, started: bigint): void {
  const status = res.statusCode;
  const level = accessLevel(status);
  if (!logger.isLevelEnabled(level)) return;
  const path = (req.originalUrl ?? req.url).split('?', 1)[0].slice(0, 200);
  if (level === 'info' && QUIET_PATHS.has(path)) return;
  const errorCode = (res.locals as { errorCode?: string }).errorCode;
  logger[level](
    {
      // With TRUST_PROXY=true, req.ip is the X-Forwarded-For text as sent: bounded like the path.
      req: { id: req.headers['x-request-id'], method: req.method, path, ip: req.ip?.slice(0, 64) },
      res: { status },
      responseTime: Number(process.hrtime.bigint() - started) / 1e6,
      ...(req.verifiedAgent ? { agent_uid: req.verifiedAgent.uid } : {}),
      ...(errorCode ? { error_code: errorCode } : {}),
    },
    `${req.method} ${path} ${status}`,
  );
}

export function accessLevel(status: number): 'error' | 'warn' | 'info' {
  if (status >= 500) return status === 503 ? 'warn' : 'error';
  if (status === 429) return 'info';
  return status >= 400 ? 'warn' : 'info';
}
