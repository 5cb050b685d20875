import { CallHandler, ExecutionContext, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import { Observable, catchError, from, mergeMap, throwError } from 'rxjs';
import { DomainError } from '../common/errors/domain-error';
import { RateLimitedError } from '../common/rate-limit/rate-limit.service';
import { auditContextOf } from '../audit/audit-entry';
import { AuditService } from '../audit/audit.service';
import type { AuditEventType } from '../audit/entities/audit-event.entity';

/** Who a failed registration or rotation was about, as far as the service got. */
export type AuditSubjectRequest = Request & { auditSubject?: { uid?: string; kid?: string } };

const EVENT_BY_PATH: Record<string, AuditEventType> = { '/register': 'register', '/rotate': 'rotate' };

/**
 * Records a failed register or rotate (a refused body included: the
 * validation pipe runs inside this interceptor) in its own write. Successes
 * are recorded by the service, in the transaction of the change.
 */
@Injectable()
export class RegistrationAuditInterceptor implements NestInterceptor {
  private readonly logger = new Logger(RegistrationAuditInterceptor.name);

  constructor(private readonly audit: AuditService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<AuditSubjectRequest>();
    const event = EVENT_BY_PATH[req.path] ?? 'register';
    return next.handle().pipe(
      catchError((error: unknown) => from(this.recordRefusal(req, event, error)).pipe(mergeMap(() => throwError(() => error)))),
    );
  }

  /**
   * Records the refusal, if `error` is one (a DomainError); never throws.
   * Also called by the hot route for POST /register (src/hot-routes).
   */
  async recordRefusal(req: AuditSubjectRequest, event: AuditEventType, error: unknown): Promise<void> {
    // Rate-limited refusals are counted and logged, not written one by one.
    if (!(error instanceof DomainError) || error instanceof RateLimitedError) return;
    this.logger.warn(`Refused ${event}: ${error.code}${req.auditSubject?.uid ? ` agent=${req.auditSubject.uid}` : ''}`);
    try {
      await this.audit.record({
        event,
        outcome: 'failure',
        errorCode: error.code,
        agentUid: req.auditSubject?.uid ?? null,
        kid: req.auditSubject?.kid ?? null,
        context: auditContextOf(req),
        detail: error.detail ?? {},
      });
    } catch (auditError) {
      this.logger.error(`Could not record a failed ${event}: ${(auditError as Error).message}`);
    }
  }
}
