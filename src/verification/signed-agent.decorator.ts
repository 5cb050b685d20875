import { applyDecorators, UseGuards } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { SignedRequestGuard } from './signed-request.guard';
import type { SignedAgentOptions } from './verified-agent';

/** Typed route metadata read by the guard. */
export const SignedAgentPolicy = Reflector.createDecorator<SignedAgentOptions>();

/**
 * Protects a controller or a route: the request must carry a valid RFC 9421
 * signature of a registered (or trusted foreign) agent.
 *
 *   @SignedAgent()                                  any verified agent
 *   @SignedAgent({ components: ['@method', '@path'] })
 *   @SignedAgent({ admin: true })                   ADMIN_AGENT_UIDS only
 */
export function SignedAgent(options: SignedAgentOptions = {}): ClassDecorator & MethodDecorator {
  return applyDecorators(SignedAgentPolicy(options), UseGuards(SignedRequestGuard));
}
