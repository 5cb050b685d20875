import { applyDecorators, UseGuards } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ErrorCode } from '../common/errors/error-code';
import { ApiErrors, ApiSignedRequest } from '../common/http/openapi.decorators';
import { SignedRequestGuard } from './signed-request.guard';
import type { SignedAgentOptions } from './verified-agent';

/** Typed route metadata read by the guard. */
export const SignedAgentPolicy = Reflector.createDecorator<SignedAgentOptions>();

/** What verification (DESIGN.md section 4) can refuse a request with, before any route-specific rule. */
export const VERIFICATION_ERROR_CODES: readonly ErrorCode[] = [
  'MISSING_SIGNATURE',
  'MISSING_SIGNATURE_INPUT',
  'MISSING_SIGNATURE_AGENT',
  'INVALID_SIGNATURE_AGENT',
  'INVALID_SIGNATURE_INPUT',
  'INVALID_SIGNATURE',
  'EXPIRED_SIGNATURE',
  'SIGNATURE_NOT_YET_VALID',
  'SIGNATURE_TOO_LONG_LIVED',
  'MISSING_NONCE',
  'REPLAYED_NONCE',
  'WRONG_TAG',
  'WRONG_AUTHORITY',
  'UNSUPPORTED_ALGORITHM',
  'UNSUPPORTED_COMPONENT',
  'MISSING_COMPONENT',
  'INVALID_CONTENT_DIGEST',
  'UNKNOWN_KEY',
  'REVOKED_KEY',
  'UNTRUSTED_SIGNATURE_AGENT',
  'AGENT_DISABLED',
  'RATE_LIMITED',
  'DATABASE_UNAVAILABLE',
];

/**
 * Protects a controller or a route: the request must carry a valid RFC 9421
 * signature of a registered (or trusted foreign) agent. It also documents
 * the route in OpenAPI (the signature headers as its security requirement,
 * and verification's error responses), so no protected route goes undocumented.
 *
 *   @SignedAgent()                                  any verified agent
 *   @SignedAgent({ components: ['@method', '@path'] })
 *   @SignedAgent({ admin: true })                   ADMIN_AGENT_UIDS only
 */
export function SignedAgent(options: SignedAgentOptions = {}): ClassDecorator & MethodDecorator {
  const codes = options.admin ? [...VERIFICATION_ERROR_CODES, 'FORBIDDEN' as const] : VERIFICATION_ERROR_CODES;
  return applyDecorators(SignedAgentPolicy(options), UseGuards(SignedRequestGuard), ApiSignedRequest(), ApiErrors(...codes));
}
