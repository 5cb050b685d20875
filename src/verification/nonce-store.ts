import type { AuditEntry } from '../audit/audit-entry';
import type { VerificationAuditSink } from './verification-audit';

/**
 * How long a nonce is kept after the last instant its signature can be
 * accepted, in seconds. It covers what the expiry check cannot see: app
 * instances whose clocks run behind the database's (the purge uses the
 * database clock) and the time a request may wait between its expiry check
 * and its nonce write (group commit, a slow database). NTP keeps a fleet
 * within milliseconds; a minute leaves room for a badly drifting host at the
 * cost of about a fifth more rows for vestauth's 300 s signatures.
 */
export const NONCE_RETENTION_MARGIN_SECONDS = 60;

/**
 * Remembers consumed signature nonces until their signature can no longer
 * be accepted. `consume` is atomic across every instance sharing the store:
 * it returns true for exactly one caller per (kid, nonce).
 *
 * `keepUntilSeconds` (Unix seconds) is when the store may forget the nonce,
 * margins included: see `NonceStore.keepUntil`. A store keeps the nonce at
 * least until then.
 */
export abstract class NonceStore {
  /**
   * When the nonce of a signature with this `expires` may be forgotten. The
   * expiry check accepts while the whole current second is at most
   * `expires + clockSkewSeconds`, that is until the instant
   * `expires + clockSkewSeconds + 1` on the checking instance's clock; the
   * margin then allows for clock differences and delays.
   */
  static keepUntil(expires: number, clockSkewSeconds: number): number {
    return expires + clockSkewSeconds + 1 + NONCE_RETENTION_MARGIN_SECONDS;
  }

  abstract consume(kid: string, nonce: string, keepUntilSeconds: number): Promise<boolean>;

  /**
   * Consumes the nonce and records the verification: `success` when fresh,
   * the same entry as a REPLAYED_NONCE failure otherwise. Stores that share
   * a database with the audit trail do both in one write.
   */
  async consumeAndRecord(kid: string, nonce: string, keepUntilSeconds: number, success: AuditEntry, sink: VerificationAuditSink): Promise<boolean> {
    const fresh = await this.consume(kid, nonce, keepUntilSeconds);
    await sink.record(fresh ? success : replayed(success));
    return fresh;
  }
}

/** The audit entry of a signature used a second time. */
export function replayed(success: AuditEntry): AuditEntry {
  return { ...success, outcome: 'failure', errorCode: 'REPLAYED_NONCE' };
}
