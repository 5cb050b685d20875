import type { Request } from 'express';
import { agentUidFromHost } from '../verification/core/agent-host';

/** How a request's Host relates to the authority. */
export type HostKind =
  | { kind: 'authority' }
  | { kind: 'agent'; uid: string }
  /** Any other name under the authority (nested labels, a label without `agent-`). */
  | { kind: 'other-subdomain' }
  | { kind: 'foreign' };

/** Classifies the Host (or trusted X-Forwarded-Host, as Express applies it) against the authority host[:port]. */
export function classifyHost(req: Request, authority: string): HostKind {
  const host = (req.host ?? '').toLowerCase();
  if (host === authority) return { kind: 'authority' };
  const uid = agentUidFromHost(host, authority);
  if (uid) return { kind: 'agent', uid };
  return host.endsWith(`.${authority}`) ? { kind: 'other-subdomain' } : { kind: 'foreign' };
}
