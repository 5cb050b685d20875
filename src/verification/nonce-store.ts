/**
 * Remembers consumed signature nonces until their signature can no longer
 * be accepted. `consume` is atomic across every instance sharing the store:
 * it returns true for exactly one caller per (kid, nonce).
 */
export abstract class NonceStore {
  abstract consume(kid: string, nonce: string, expiresAtSeconds: number): Promise<boolean>;
}
