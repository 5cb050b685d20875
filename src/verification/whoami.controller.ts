import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { SignedAgent } from './signed-agent.decorator';
import { CurrentAgent } from './verified-agent.decorator';
import type { VerifiedAgent } from './verified-agent';

export interface WhoamiResponse {
  uid: string;
  kid: string;
  public_jwk: Record<string, unknown>;
  well_known_url: string;
}

/** vestauth's /whoami: the verified agent, exactly in the reference's shape. */
@Controller('whoami')
@SignedAgent()
export class WhoamiController {
  @Get()
  get(@CurrentAgent() agent: VerifiedAgent): WhoamiResponse {
    return toWhoami(agent);
  }

  @Post()
  @HttpCode(200)
  post(@CurrentAgent() agent: VerifiedAgent): WhoamiResponse {
    return toWhoami(agent);
  }
}

function toWhoami(agent: VerifiedAgent): WhoamiResponse {
  return { uid: agent.uid, kid: agent.kid, public_jwk: agent.public_jwk, well_known_url: agent.well_known_url };
}
