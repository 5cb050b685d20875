import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { AppConfig } from '../config/app-config';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
/** A signal this soon after the first is the same one delivered twice, not an operator insisting. */
const SECOND_SIGNAL_AFTER_MS = 1_000;

/**
 * What happens between SIGTERM (or SIGINT) and exit, besides Nest's own
 * shutdown hooks (bootstrap.ts enables them):
 *
 * - from the signal on, every response carries `Connection: close` (those
 *   in flight at the signal too), so no client sends another request on a
 *   connection that is about to close;
 * - Terminus answers /health/* 503 at once and, on SIGTERM, keeps the port
 *   open SHUTDOWN_DRAIN_SECONDS (health.module.ts), so that a load balancer
 *   stops sending requests before connections are refused;
 * - once the port is closed, connections without a request in progress (a
 *   balancer's or browser's pre-opened one, which Node's close() leaves
 *   open) are closed;
 * - a deadline: the rest (in-flight requests, background work, closing the
 *   database) gets SHUTDOWN_TIMEOUT_SECONDS after the drain. A client that
 *   never finishes its request, or a database session that hangs, would
 *   otherwise hold the process until the orchestrator kills it; past the
 *   deadline, or at a second signal, the connections are cut and the
 *   process exits 1.
 *
 * Connections are tracked, not responses: a socket always emits 'close',
 * while a response queued behind a pipelined one whose client went away
 * never does (a Set of responses grew without bound that way).
 */
@Injectable()
export class GracefulShutdown implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Shutdown');
  private draining = false;
  private startedAt = 0;
  private idleSweep?: NodeJS.Timeout;
  private readonly connections = new Set<Socket>();
  /** The response of each connection's latest request. */
  private readonly latest = new WeakMap<Socket, ServerResponse>();
  private readonly onSignal = (signal: NodeJS.Signals): void => this.begin(signal);
  private readonly onConnection = (socket: Socket): void => {
    this.connections.add(socket);
    socket.once('close', () => this.connections.delete(socket));
  };
  /** The app's own request listeners, called by `dispatch` (onApplicationBootstrap). */
  private handlers: Array<(req: IncomingMessage, res: ServerResponse) => void> = [];
  private httpServer?: Server;
  private readonly dispatch = (req: IncomingMessage, res: ServerResponse): void => {
    if (this.closesBefore(req, res)) return;
    for (const handler of this.handlers) handler.call(this.httpServer, req, res);
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
    const server = (this.httpServer = this.server);
    if (!server) return;
    // The app's listeners run behind this one, which sets the header before any handler can answer and
    // keeps a request that will never be answered from being handled at all (closesBefore).
    this.handlers = server.listeners('request') as typeof this.handlers;
    server.removeAllListeners('request');
    server.on('request', this.dispatch);
    server.on('connection', this.onConnection);
  }

  onApplicationShutdown(): void {
    for (const signal of SIGNALS) process.off(signal, this.onSignal);
    if (this.server?.listeners('request').includes(this.dispatch)) {
      this.server.off('request', this.dispatch);
      for (const handler of this.handlers) this.server.on('request', handler);
    }
    this.server?.off('connection', this.onConnection);
    clearInterval(this.idleSweep);
    if (this.startedAt > 0) this.logger.log(`Stopped in ${Date.now() - this.startedAt} ms`);
  }

  /**
   * Whether the request must not be handled: during the drain, `Connection:
   * close` goes on the last request a connection has sent so far. A request
   * pipelined behind one whose answer already went out with it would never
   * be answered (Node drops it), so it is not handled: no nonce spent, no
   * key registered, for a request nobody hears back from (RFC 9112 section
   * 9.6). One behind an answer not yet sent moves the header to itself.
   */
  private closesBefore(req: IncomingMessage, res: ServerResponse): boolean {
    const previous = this.latest.get(req.socket);
    this.latest.set(req.socket, res);
    if (!this.draining) return false;
    if (previous && !previous.writableFinished) {
      if (!previous.headersSent) previous.removeHeader('Connection');
      else if (previous.getHeader('connection') === 'close') return true;
    }
    res.setHeader('Connection', 'close');
    return false;
  }

  private begin(signal: NodeJS.Signals): void {
    if (this.draining) {
      // One Ctrl-C can arrive twice (the terminal signals the process group, and `npm start` forwards it too).
      if (Date.now() - this.startedAt >= SECOND_SIGNAL_AFTER_MS) this.cut(`at a second signal (${signal})`);
      return;
    }
    this.draining = true;
    this.startedAt = Date.now();
    for (const socket of this.connections) {
      const res = this.latest.get(socket);
      if (res && !res.headersSent) res.setHeader('Connection', 'close');
    }
    const { drainMs, timeoutMs } = this.config.shutdown;
    const drain = signal === 'SIGTERM' ? drainMs : 0;
    this.logger.log(
      `${signal}: /health/* answers 503 and responses close their connections; ` +
        `${drain > 0 ? `the port closes in ${drain} ms, then ` : ''}in-flight requests get ${timeoutMs} ms (a second signal stops at once)`,
    );
    const deadline = setTimeout(() => this.cut(`${drain + timeoutMs} ms after the signal`), drain + timeoutMs);
    deadline.unref();
    this.sweepIdleOnceClosed();
  }

  /**
   * With or without a signal (app.close()): server.close() ends only the
   * connections idle at that moment, so a keep-alive connection whose
   * request was in flight would hold the shutdown open for keepAliveTimeout
   * (65 s, past Docker's and Kubernetes' grace periods).
   */
  beforeApplicationShutdown(): void {
    this.sweepIdleOnceClosed();
  }

  private sweepIdleOnceClosed(): void {
    this.idleSweep ??= setInterval(() => this.closeIdleOnceClosed(), 100);
    this.idleSweep.unref();
  }

  /**
   * Once the port is closed: connections with no request in progress end
   * now (the others after their response). Node knows which keep-alive
   * connections sit between requests (closeIdleConnections: not one whose
   * next request is half received); a connection that never sent a byte it
   * leaves open, so those are closed here.
   */
  private closeIdleOnceClosed(): void {
    const server = this.server;
    if (server?.listening !== false) return;
    server.closeIdleConnections();
    for (const socket of this.connections) {
      if (socket.bytesRead === 0 && !this.latest.has(socket)) socket.destroy();
    }
  }

  private cut(when: string): void {
    this.logger.error(`Shutdown not finished ${when} (a client that never finishes its request, or a hung database session): cutting every connection and exiting 1`);
    this.server?.closeAllConnections();
    // Now: the hooks still running would otherwise end in Nest's process.exit(0), as if all had gone well.
    process.exit(1);
  }
}
