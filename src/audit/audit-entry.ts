import type { Request } from 'express';
import { requestIdOf } from '../common/http/request-id.middleware';
import type { AuditEventType, AuditOutcome } from './entities/audit-event.entity';

/** Where a request came from, as recorded in the audit trail. */
export interface RequestAuditContext {
  method: string | null;
  /** Path only: a query string may carry secrets. */
  path: string | null;
  authority: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

export interface AuditEntry {
  event: AuditEventType;
  outcome: AuditOutcome;
  errorCode?: string | null;
  agentUid?: string | null;
  kid?: string | null;
  context?: RequestAuditContext;
  detail?: Record<string, unknown>;
}

export const NO_REQUEST: RequestAuditContext = {
  method: null,
  path: null,
  authority: null,
  ip: null,
  userAgent: null,
  requestId: null,
};

/** The audit context of an HTTP request; `req.ip` already honours trust proxy. */
export function auditContextOf(req: Request): RequestAuditContext {
  const authority = (req.headers.host ?? '').toLowerCase();
  return {
    method: req.method.slice(0, 10),
    path: clip(req.path, 512),
    authority: clip(authority, 260),
    ip: clip(req.ip ?? req.socket.remoteAddress ?? '', 64),
    userAgent: clip(req.headers['user-agent'] ?? '', 256),
    requestId: clip(requestIdOf(req), 64),
  };
}

function clip(value: string, max: number): string | null {
  return value.length === 0 ? null : value.slice(0, max);
}

/** Who performs an admin action: an admin agent over HTTP, or the operator CLI. */
export interface AdminActor {
  /** The admin agent's uid, or `cli:<os user>` for the operator CLI. */
  uid: string;
  kid: string | null;
  context: RequestAuditContext;
}

/** The actor of an admin request. */
export function adminActorOf(agent: { uid: string; kid: string }, req: Request): AdminActor {
  return { uid: agent.uid, kid: agent.kid, context: auditContextOf(req) };
}
