import { Controller, Get, Header, Req, Res, UseInterceptors } from '@nestjs/common';
import type { Response } from 'express';
import { AppConfig } from '../config/app-config';
import { WELL_KNOWN_DIRECTORY_PATH } from '../verification/key-resolver';
import { DiscoveryService, KeyDirectory } from './discovery.service';
import { AgentHostRequest, SubdomainAgentInterceptor } from './subdomain-agent.interceptor';

export const DIRECTORY_CONTENT_TYPE = 'application/http-message-signatures-directory+json';

@Controller()
@UseInterceptors(SubdomainAgentInterceptor)
export class DiscoveryController {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly config: AppConfig,
  ) {}

  @Get(WELL_KNOWN_DIRECTORY_PATH)
  @Header('Content-Type', DIRECTORY_CONTENT_TYPE)
  async directory(@Req() req: AgentHostRequest, @Res({ passthrough: true }) res: Response): Promise<KeyDirectory> {
    const directory = await this.discovery.directory(req.agentUid!);
    res.setHeader('Cache-Control', `max-age=${this.config.directoryMaxAgeSeconds}`);
    return directory;
  }
}
