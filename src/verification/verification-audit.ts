import type { AuditEntry } from '../audit/audit-entry';

/**
 * Where verification outcomes are recorded: the audit table inside the
 * authority, the log in a service that only protects its routes.
 */
export abstract class VerificationAuditSink {
  abstract record(entry: AuditEntry): Promise<void>;
}
