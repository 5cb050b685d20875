import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Observable, tap } from 'rxjs';
import { MetricsService } from '../metrics/metrics.service';
import { registrationOperationOf, type RegistrationOperation } from './registration-operation.decorator';

/** Latency of POST /register and POST /rotate, by outcome. */
@Injectable()
export class RegistrationMetricsInterceptor implements NestInterceptor {
  constructor(
    private readonly metrics: MetricsService,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const operation = registrationOperationOf(this.reflector, context);
    const started = process.hrtime.bigint();
    return next.handle().pipe(tap({ next: () => this.observe(operation, 'success', started), error: () => this.observe(operation, 'failure', started) }));
  }

  /** Also called by the hot route for POST /register (src/hot-routes). */
  observe(operation: RegistrationOperation, outcome: 'success' | 'failure', started: bigint): void {
    this.metrics.registrationSeconds.observe({ operation, outcome }, Number(process.hrtime.bigint() - started) / 1e9);
  }
}
