import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';
import { AppConfig } from '../config/app-config';

const PINO_LEVEL = { fatal: 'fatal', error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' } as const;

const rootLoggers = new WeakMap<AppConfig, Logger>();

/**
 * The process's one pino logger: JSON lines on stdout, readable lines in a
 * development terminal. One per configuration: bootstrap.ts gives it to Nest
 * before the modules start (so that start-up lines, a database being waited
 * for included, appear as they happen) and LoggingModule provides the same.
 */
export function createRootLogger(config: AppConfig): Logger {
  let logger = rootLoggers.get(config);
  if (!logger) {
    logger = pino({ level: PINO_LEVEL[config.logLevel], base: { pid: process.pid }, transport: prettyTransport(config) });
    rootLoggers.set(config, logger);
  }
  return logger;
}

function prettyTransport(config: AppConfig): pino.TransportSingleOptions | undefined {
  if (config.isProduction || !process.stdout.isTTY) return undefined;
  try {
    require.resolve('pino-pretty');
    return { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } };
  } catch {
    return undefined; // production install without dev dependencies
  }
}

/** Nest's own log lines (and every `new Logger(Context)`) through pino, with the context as a field. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  // Nest passes (message, context) or, for errors, (message, stack, context).
  private write(level: pino.Level, message: unknown, rest: unknown[]): void {
    if (!this.logger.isLevelEnabled(level)) return;
    const context = typeof rest[rest.length - 1] === 'string' ? (rest[rest.length - 1] as string) : undefined;
    const stack = rest.length > 1 && typeof rest[0] === 'string' ? rest[0] : undefined;
    const fields = { ...(context ? { context } : {}), ...(stack ? { stack } : {}) };
    if (message instanceof Error) this.logger[level]({ ...fields, err: { type: message.name, message: message.message, stack: message.stack } }, message.message);
    else this.logger[level](fields, typeof message === 'string' ? message : JSON.stringify(message));
  }
}
