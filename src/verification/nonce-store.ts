import type { AuditEntry } from '../audit/audit-entry';
import type { VerificationAuditSink } from './verification-audit';

/**
 * Remembers consumed signature nonces until their signature can no longer
 * be accepted. `consume` is atomic across every instance sharing the store:
 * it returns true for exactly one caller per (kid, nonce).
 */
export abstract class NonceStore {
  abstract consume(kid: string, nonce: string, expiresAtSeconds: number): Promise<boolean>;

  /**
   * Consumes the nonce and records the verification: `success` when fresh,
   * the same entry as a REPLAYED_NONCE failure otherwise. Stores that share
   * a database with the audit trail do both in one write.
   */
  async consumeAndRecord(kid: string, nonce: string, expiresAtSeconds: number, success: AuditEntry, sink: VerificationAuditSink): Promise<boolean> {
    const fresh = await this.consume(kid, nonce, expiresAtSeconds);
    await sink.record(fresh ? success : replayed(success));
    return fresh;
  }
}

/** The audit entry of a signature used a second time. */
export function replayed(success: AuditEntry): AuditEntry {
  return { ...success, outcome: 'failure', errorCode: 'REPLAYED_NONCE' };
}
