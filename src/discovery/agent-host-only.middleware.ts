import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AppConfig } from '../config/app-config';
import { DomainError } from '../common/errors/domain-error';
import { WELL_KNOWN_DIRECTORY_PATH } from '../verification/key-resolver';
import { classifyHost } from './agent-host';

/**
 * On agent hosts only discovery answers: any other route is 404 before a
 * guard, handler or audit row is involved.
 */
@Injectable()
export class AgentHostOnlyMiddleware implements NestMiddleware {
  constructor(private readonly config: AppConfig) {}

  use(req: Request, _res: Response, next: NextFunction): void {
    // req.path is relative to the middleware's mount point; originalUrl is not.
    const path = req.originalUrl.split('?', 1)[0];
    if (path !== WELL_KNOWN_DIRECTORY_PATH && classifyHost(req, this.config.authority).kind === 'agent') {
      throw new DomainError('NOT_FOUND', 'not found', 'agent hosts serve only /.well-known/http-message-signatures-directory');
    }
    next();
  }
}
