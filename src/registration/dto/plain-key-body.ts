import { ed25519JwkXWeakness } from '../../verification/core/ed25519-key-strength';
import type { PublicJwkDto } from './public-jwk.dto';
import { ED25519_X_PATTERN, MAX_CLIENT_KID_LENGTH } from './public-jwk.dto';
import type { PublicKeyBodyDto } from './register.dto';

const JWK_MEMBERS = new Set(['kty', 'crv', 'x', 'kid']);
// A client kid the pipe's IsString + MaxLength accept for certain (ASCII, so
// validator.js's length and String#length agree); any other goes to the pipe.
const PLAIN_KID = new RegExp(`^[A-Za-z0-9_-]{0,${MAX_CLIENT_KID_LENGTH}}$`);

/**
 * The body every client sends, `{"public_jwk":{"kty":"OKP","crv":"Ed25519",
 * "x":…[,"kid":…]}}` with nothing else, recognised without class-validator
 * (a fifth of a registration's CPU on the hot route). Returns what the
 * validation pipe returns for it, or undefined for any other body, which
 * then goes through the pipe: every refusal, and every body with other
 * members (which the pipe strips or refuses), stays the pipe's decision.
 * src/registration/dto/plain-key-body.spec.ts holds both to the same answers.
 */
export function plainPublicKeyBody(value: unknown): PublicKeyBodyDto | undefined {
  if (!isPlainObject(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== 'public_jwk') return undefined;
  const jwk = value.public_jwk;
  if (!isPlainObject(jwk)) return undefined;
  for (const member of Object.keys(jwk)) if (!JWK_MEMBERS.has(member)) return undefined;
  const { kty, crv, x, kid } = jwk;
  if (kty !== 'OKP' || crv !== 'Ed25519' || typeof x !== 'string' || !ED25519_X_PATTERN.test(x)) return undefined;
  // A key anyone can sign for is the pipe's to refuse (IsStrongEd25519Key).
  if (ed25519JwkXWeakness(x) !== undefined) return undefined;
  if (kid !== undefined && (typeof kid !== 'string' || !PLAIN_KID.test(kid))) return undefined;
  const publicJwk: PublicJwkDto = kid === undefined ? { kty, crv, x } : { kty, crv, x, kid };
  return { public_jwk: publicJwk };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}
