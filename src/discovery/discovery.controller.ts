import { Controller, Get, Req, Res, UseInterceptors } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrors } from '../common/http/openapi.decorators';
import { AppConfig } from '../config/app-config';
import { WELL_KNOWN_DIRECTORY_PATH } from '../verification/key-resolver';
import { DiscoveryService } from './discovery.service';
import { KeyDirectory } from './dto/key-directory.dto';
import { AgentHostRequest, SubdomainAgentInterceptor } from './subdomain-agent.interceptor';

export const DIRECTORY_CONTENT_TYPE = 'application/http-message-signatures-directory+json';

@ApiTags('discovery')
@ApiExtraModels(KeyDirectory)
@Controller()
@UseInterceptors(SubdomainAgentInterceptor)
export class DiscoveryController {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly config: AppConfig,
  ) {}

  @Get(WELL_KNOWN_DIRECTORY_PATH)
  @ApiOperation({
    summary: 'The agent\'s public key directory (web-bot-auth)',
    description:
      'Served **only on the agent host**: the `Host` header must be `agent-<24 hex>.<authority host[:port]>`, which names the agent ' +
      '(this operation\'s server). On the authority host itself, or any other name, it is 404. Verifiers fetch it to resolve `Signature-Agent`.',
  })
  @ApiOkResponse({
    description: `The agent's active keys, as \`${DIRECTORY_CONTENT_TYPE}\`, with a short \`Cache-Control: max-age\`.`,
    content: { [DIRECTORY_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(KeyDirectory) } } },
  })
  @ApiErrors('NOT_FOUND', 'UNKNOWN_AGENT', 'DATABASE_UNAVAILABLE')
  async directory(@Req() req: AgentHostRequest, @Res({ passthrough: true }) res: Response): Promise<KeyDirectory> {
    const directory = await this.discovery.directory(req.agentUid!);
    // Set here, not with @Header: that would label the 404 error bodies as directories too.
    res.setHeader('Content-Type', DIRECTORY_CONTENT_TYPE);
    res.setHeader('Cache-Control', `max-age=${this.config.directoryMaxAgeSeconds}`);
    return directory;
  }
}
