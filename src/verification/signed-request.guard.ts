import { CanActivate, ExecutionContext, Injectable, Optional } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { toCodedHttpException } from '../common/filters/api-exception.filter';
import { DomainError } from '../common/errors/domain-error';
import { MetricsService } from '../metrics/metrics.service';
import { SignedAgentPolicy } from './signed-agent.decorator';
import { VerificationService } from './verification.service';
import type { SignedAgentOptions, VerifiedAgent } from './verified-agent';

export type SignedRequest = Request & { verifiedAgent?: VerifiedAgent };

/**
 * Runs verification for routes marked with @SignedAgent and leaves the
 * result on the request. Failures throw coded errors (never `false`, which
 * Nest would turn into a bare 403), as HttpExceptions carrying DESIGN.md's
 * error body, so that any Nest app answers them properly.
 */
@Injectable()
export class SignedRequestGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verification: VerificationService,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const policy = this.reflector.getAllAndOverride(SignedAgentPolicy, [context.getHandler(), context.getClass()]) ?? {};
    const http = context.switchToHttp();
    const request = http.getRequest<SignedRequest>();
    try {
      await this.verifyRequest(request, policy);
    } catch (error) {
      // As an HttpException: an app without our exception filter answers 401/403/429/503 with the error body, not 500.
      throw toCodedHttpException(error, request, http.getResponse<Response>());
    }
    return true;
  }

  /** Verifies, leaves the agent on the request and counts the outcome; the hot routes (hot-routes.ts) call it directly. */
  async verifyRequest(request: SignedRequest, policy: SignedAgentOptions): Promise<VerifiedAgent> {
    const started = process.hrtime.bigint();
    try {
      const agent = await this.verification.verify(request, policy);
      request.verifiedAgent = agent;
      this.observe(started, 'success', 'none');
      return agent;
    } catch (error) {
      this.observe(started, 'failure', error instanceof DomainError ? error.code : 'ERROR');
      throw error;
    }
  }

  private observe(started: bigint, outcome: 'success' | 'failure', code: string): void {
    if (!this.metrics) return;
    this.metrics.verifications.inc({ outcome, code });
    this.metrics.verificationSeconds.observe({ outcome }, Number(process.hrtime.bigint() - started) / 1e9);
  }
}
