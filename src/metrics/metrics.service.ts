import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The Prometheus registry of this process. Counters are incremented where
 * things happen; gauges that mirror other components' state (cache, pool,
 * remote fetches) are read by collectors at scrape time, off the hot path.
 */
@Injectable()
export class MetricsService implements OnApplicationShutdown {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'vestauth_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });

  readonly verifications = new Counter({
    name: 'vestauth_verifications_total',
    help: 'Signature verifications by outcome and error code',
    labelNames: ['outcome', 'code'] as const,
    registers: [this.registry],
  });

  readonly verificationSeconds = new Histogram({
    name: 'vestauth_verification_duration_seconds',
    help: 'Time to verify a signed request, including nonce and audit writes',
    labelNames: ['outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly registrationSeconds = new Histogram({
    name: 'vestauth_registration_duration_seconds',
    help: 'Time to handle POST /register and POST /rotate',
    labelNames: ['operation', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'vestauth_' });
  }

  /** A gauge whose value is read from elsewhere when Prometheus scrapes. */
  gauge(name: string, help: string, labelNames: readonly string[], collect: (set: (labels: Record<string, string>, value: number) => void) => void): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        collect((labels, value) => this.set(labels, value));
      },
    });
  }

  // Not onModuleDestroy: that runs before the SIGTERM drain, while /metrics is still scraped.
  onApplicationShutdown(): void {
    this.registry.clear();
  }
}
