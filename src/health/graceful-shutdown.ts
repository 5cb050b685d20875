import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { AppConfig } from '../config/app-config';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * What happens between SIGTERM (or SIGINT) and exit, besides Nest's own
 * shutdown hooks (bootstrap.ts enables them):
 *
 * - from the signal on, every response carries `Connection: close`, so no
 *   client sends another request on a connection that is about to close;
 * - Terminus answers /health/* 503 at once and, on SIGTERM, keeps the port
 *   open SHUTDOWN_DRAIN_SECONDS (health.module.ts), so that a load balancer
 *   stops sending requests before connections are refused;
 * - a deadline: the rest (in-flight requests, background work, closing the
 *   database) gets SHUTDOWN_TIMEOUT_SECONDS after the drain. A client that
 *   never finishes its request, or a database session that hangs, would
 *   otherwise hold the process until the orchestrator kills it; past the
 *   deadline the connections are cut and the process exits 1.
 */
@Injectable()
export class GracefulShutdown implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Shutdown');
  private draining = false;
  private startedAt = 0;
  private readonly onSignal = (signal: NodeJS.Signals): void => this.begin(signal);
  /** Responses not finished yet: those already in flight at the signal close their connections too. */
  private readonly inFlight = new Set<ServerResponse>();
  private readonly onRequest = (_req: IncomingMessage, res: ServerResponse): void => {
    if (this.draining) {
      res.setHeader('Connection', 'close');
      return;
    }
    this.inFlight.add(res);
    res.once('close', () => this.inFlight.delete(res));
  };

  constructor(
    private readonly config: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  private get server(): Server | undefined {
    return this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
  }

  onApplicationBootstrap(): void {
    for (const signal of SIGNALS) process.on(signal, this.onSignal);
    // Before the app's own listener, so that the header is set before any handler can answer.
    this.server?.prependListener('request', this.onRequest);
  }

  onApplicationShutdown(): void {
    for (const signal of SIGNALS) process.off(signal, this.onSignal);
    this.server?.off('request', this.onRequest);
    if (this.startedAt > 0) this.logger.log(`Stopped in ${Date.now() - this.startedAt} ms`);
  }

  private begin(signal: NodeJS.Signals): void {
    if (this.draining) return;
    this.draining = true;
    this.startedAt = Date.now();
    for (const res of this.inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    this.inFlight.clear();
    const { drainMs, timeoutMs } = this.config.shutdown;
    const drain = signal === 'SIGTERM' ? drainMs : 0;
    this.logger.log(
      `${signal}: /health/* answers 503 and responses close their connections; ` +
        `${drain > 0 ? `the port closes in ${drain} ms, then ` : ''}in-flight requests get ${timeoutMs} ms`,
    );
    const deadline = setTimeout(() => this.cut(drain + timeoutMs), drain + timeoutMs);
    deadline.unref();
  }

  private cut(afterMs: number): void {
    this.logger.error(`Shutdown not finished ${afterMs} ms after the signal (a client that never finishes its request, or a hung database session): cutting every connection and exiting 1`);
    this.server?.closeAllConnections();
    // Now: the hooks still running would otherwise end in Nest's process.exit(0), as if all had gone well.
    process.exit(1);
  }
}
