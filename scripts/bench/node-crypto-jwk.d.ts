// @types/node 20 lacks the JWK output encoding that generateKeyPairSync has
// supported since Node 15.9 (see the Node crypto docs, keyObject.export
// formats); the benchmark's key generation needs it (scripts/bench/agents.ts).
import type { JsonWebKey } from 'node:crypto';

declare module 'crypto' {
  function generateKeyPairSync(
    type: 'ed25519',
    options: { publicKeyEncoding: { format: 'jwk' }; privateKeyEncoding: { format: 'jwk' } },
  ): { publicKey: JsonWebKey; privateKey: JsonWebKey };
}
