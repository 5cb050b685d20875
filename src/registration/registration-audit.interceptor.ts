import { CallHandler, ExecutionContext, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { Observable, catchError, from, mergeMap, throwError } from 'rxjs';
import { DomainError } from '../common/errors/domain-error';
import { RateLimitedError } from '../common/rate-limit/rate-limit.service';
import { RegistrationService } from './registration.service';
import { auditContextOf } from '../audit/audit-entry';
import { AuditService } from '../audit/audit.service';
import type { AuditEventType } from '../audit/entities/audit-event.entity';
import { bodyRefusalCode, heldBodyRefusal } from './body-refusal';
import { registrationOperationOf } from './registration-operation.decorator';

/** Who a failed registration or rotation was about, as far as the service got. */
export type AuditSubjectRequest = Request & { auditSubject?: { uid?: string; kid?: string } };

/**
 * Records a failed register or rotate (a refused body included: the body
 * parser's refusal is raised here, the validation pipe runs inside this
 * interceptor) in its own write. Successes are recorded by the service, in
 * the transaction of the change.
 */
@Injectable()
export class RegistrationAuditInterceptor implements NestInterceptor {
  private readonly logger = new Logger(RegistrationAuditInterceptor.name);

  constructor(
    private readonly audit: AuditService,
    private readonly reflector: Reflector,
    private readonly registration: RegistrationService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<AuditSubjectRequest>();
    const event = registrationOperationOf(this.reflector, context);
    // The budget first, as the hot route does: a refused body spends it too, and a 429 writes no row.
    try {
      this.registration.admit(req);
    } catch (limited) {
      return throwError(() => limited);
    }
    const refused = heldBodyRefusal(req);
    const handled = refused === undefined ? next.handle() : throwError(() => refused.error);
    return handled.pipe(
      catchError((error: unknown) => from(this.recordRefusal(req, event, error)).pipe(mergeMap(() => throwError(() => error)))),
    );
  }

  /**
   * Records the refusal, if `error` is one (a DomainError or the body
   * parser's refusal); never throws. Also called by the hot route for
   * POST /register (src/hot-routes).
   */
  async recordRefusal(req: AuditSubjectRequest, event: AuditEventType, error: unknown): Promise<void> {
    // Rate-limited refusals are counted and logged, not written one by one.
    if (error instanceof RateLimitedError) return;
    const code = error instanceof DomainError ? error.code : bodyRefusalCode(error);
    if (code === undefined) return;
    this.logger.warn(`Refused ${event}: ${code}${req.auditSubject?.uid ? ` agent=${req.auditSubject.uid}` : ''}`);
    try {
      await this.audit.record({
        event,
        outcome: 'failure',
        errorCode: code,
        agentUid: req.auditSubject?.uid ?? null,
        kid: req.auditSubject?.kid ?? null,
        context: auditContextOf(req),
        detail: (error instanceof DomainError ? error.detail : undefined) ?? {},
      });
    } catch (auditError) {
      this.logger.error(`Could not record a failed ${event}: ${(auditError as Error).message}`);
    }
  }
}
