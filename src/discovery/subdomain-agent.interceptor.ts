import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import { Observable } from 'rxjs';
import { AppConfig } from '../config/app-config';
import { DomainError } from '../common/errors/domain-error';
import { classifyHost } from './agent-host';

export type AgentHostRequest = Request & { agentUid?: string };

/**
 * Discovery routes answer only on `agent-<uid>.<authority host>`: exactly
 * one label in front of PUBLIC_URL's host[:port]. The uid is attached to
 * the request; the bare host, nested labels and other names get 404, never
 * some other agent's keys.
 */
@Injectable()
export class SubdomainAgentInterceptor implements NestInterceptor {
  constructor(private readonly config: AppConfig) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<AgentHostRequest>();
    const host = classifyHost(req, this.config.authority);
    if (host.kind !== 'agent') {
      throw new DomainError('NOT_FOUND', 'not found', 'the key directory is served on agent-<uid>.<authority host>');
    }
    req.agentUid = host.uid;
    return next.handle();
  }
}
