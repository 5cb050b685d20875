import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { SignedRequest } from './signed-request.guard';
import type { VerifiedAgent } from './verified-agent';

/** The agent verified by @SignedAgent for this request. */
export const CurrentAgent = createParamDecorator((_data: unknown, context: ExecutionContext): VerifiedAgent => {
  const agent = context.switchToHttp().getRequest<SignedRequest>().verifiedAgent;
  if (!agent) {
    // A handler read the agent on a route without @SignedAgent: a programming error.
    throw new Error('@CurrentAgent() used on a route that is not protected by @SignedAgent()');
  }
  return agent;
});
