import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { SignedAgentPolicy } from './signed-agent.decorator';
import { VerificationService } from './verification.service';
import type { VerifiedAgent } from './verified-agent';

export type SignedRequest = Request & { verifiedAgent?: VerifiedAgent };

/**
 * Runs verification for routes marked with @SignedAgent and leaves the
 * result on the request. Failures throw coded errors (never `false`, which
 * Nest would turn into a bare 403).
 */
@Injectable()
export class SignedRequestGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verification: VerificationService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const policy = this.reflector.getAllAndOverride(SignedAgentPolicy, [context.getHandler(), context.getClass()]) ?? {};
    const request = context.switchToHttp().getRequest<SignedRequest>();
    request.verifiedAgent = await this.verification.verify(request, policy);
    return true;
  }
}
