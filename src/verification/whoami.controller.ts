import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { PublicJwkView } from '../agents/dto/public-jwk-view.dto';
import { ApiErrors, BODY_ERROR_CODES } from '../common/http/openapi.decorators';
import { SignedAgent } from './signed-agent.decorator';
import { CurrentAgent } from './verified-agent.decorator';
import type { VerifiedAgent } from './verified-agent';

export class WhoamiResponse {
  @ApiProperty({ example: 'agent-4b94ccb4f5a6c3b8d3e1f0a2' })
  uid: string;

  @ApiProperty({ description: 'The `keyid` that verified the request.' })
  kid: string;

  @ApiProperty({ type: () => PublicJwkView })
  public_jwk: Record<string, unknown>;

  @ApiProperty({ description: 'The agent\'s key directory URL.', example: 'http://agent-4b94ccb4f5a6c3b8d3e1f0a2.localhost:3000/.well-known/http-message-signatures-directory' })
  well_known_url: string;
}

const WHOAMI_DESCRIPTION = 'Verifies the signed request and answers with the agent it identifies, as `vestauth agent curl` expects.';

/** vestauth's /whoami: the verified agent, exactly in the reference's shape. */
@ApiTags('verification')
@Controller('whoami')
@SignedAgent()
export class WhoamiController {
  @Get()
  @ApiOperation({ summary: 'Who signed this request', description: WHOAMI_DESCRIPTION })
  @ApiOkResponse({ type: WhoamiResponse })
  get(@CurrentAgent() agent: VerifiedAgent): WhoamiResponse {
    return toWhoami(agent);
  }

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'Who signed this request (POST)', description: `${WHOAMI_DESCRIPTION} Any request body is ignored.` })
  @ApiOkResponse({ type: WhoamiResponse })
  @ApiErrors(...BODY_ERROR_CODES)
  post(@CurrentAgent() agent: VerifiedAgent): WhoamiResponse {
    return toWhoami(agent);
  }
}

export function toWhoami(agent: VerifiedAgent): WhoamiResponse {
  return { uid: agent.uid, kid: agent.kid, public_jwk: agent.public_jwk, well_known_url: agent.well_known_url };
}
