import type { IncomingMessage, ServerResponse } from 'node:http';
import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { Options } from 'pino-http';
import { AppConfig } from '../config/app-config';

type LoggedRequest = IncomingMessage & { verifiedAgent?: { uid: string }; originalUrl?: string };
type LoggedResponse = ServerResponse & { locals?: { errorCode?: string } };

const PINO_LEVEL = { fatal: 'fatal', error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' } as const;
const QUIET_PATHS = new Set(['/health/live', '/health/ready', '/metrics']);

/**
 * Structured JSON logs (pino): one line per request with the request id,
 * method, path (never the query), status, agent uid and error code; never
 * headers, signatures, nonces, bodies or keys. Human-readable (pino-pretty)
 * when a developer runs it in a terminal.
 */
export function pinoHttpOptions(config: AppConfig): Options<LoggedRequest, LoggedResponse> {
  return {
    level: PINO_LEVEL[config.logLevel],
    genReqId: (req) => String(req.headers['x-request-id'] ?? ''),
    autoLogging: { ignore: (req) => QUIET_PATHS.has(pathOf(req)) },
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    customSuccessMessage: (req, res) => `${req.method} ${pathOf(req)} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${pathOf(req)} ${res.statusCode}`,
    customSuccessObject: (req, res, value: object) => ({ ...value, ...outcomeOf(req, res) }),
    customErrorObject: (req, res, _error, value: object) => ({ ...value, ...outcomeOf(req, res) }),
    serializers: {
      req: (req: { id?: unknown; method?: string; url?: string }) => ({ id: req.id, method: req.method, path: (req.url ?? '').split('?', 1)[0].slice(0, 200) }),
      res: (res: { statusCode?: number }) => ({ status: res.statusCode }),
      err: (err: Error) => ({ type: err.name, message: err.message }),
    },
    transport: prettyTransport(config),
  };
}

function pathOf(req: LoggedRequest): string {
  return (req.originalUrl ?? req.url ?? '').split('?', 1)[0].slice(0, 200);
}

function outcomeOf(req: LoggedRequest, res: LoggedResponse): Record<string, unknown> {
  return {
    ...(req.verifiedAgent ? { agent_uid: req.verifiedAgent.uid } : {}),
    ...(res.locals?.errorCode ? { error_code: res.locals.errorCode } : {}),
  };
}

function prettyTransport(config: AppConfig): Options['transport'] {
  if (config.isProduction || !process.stdout.isTTY) return undefined;
  try {
    require.resolve('pino-pretty');
    return { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } };
  } catch {
    return undefined; // production install without dev dependencies
  }
}

@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({ pinoHttp: pinoHttpOptions(config), renameContext: 'context' }),
    }),
  ],
})
export class LoggingModule {}
