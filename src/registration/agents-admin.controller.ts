import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { SignedAgent } from '../verification/signed-agent.decorator';
import { CurrentAgent } from '../verification/verified-agent.decorator';
import type { VerifiedAgent } from '../verification/verified-agent';
import { AgentAdminService, AgentDetail } from './agent-admin.service';
import { AgentKeyParamDto, AgentKeyView, AgentListQueryDto, AgentListResponse, AgentUidParamDto, AgentView, RevokeKeyDto } from './dto/agent-admin.dto';

@Controller('admin/agents')
@SignedAgent({ admin: true })
export class AgentsAdminController {
  constructor(private readonly admin: AgentAdminService) {}

  @Get()
  list(@CurrentAgent() agent: VerifiedAgent, @Query() query: AgentListQueryDto, @Req() req: Request): Promise<AgentListResponse> {
    return this.admin.list(agent, query, req);
  }

  @Get(':uid')
  detail(@CurrentAgent() agent: VerifiedAgent, @Param() params: AgentUidParamDto, @Req() req: Request): Promise<AgentDetail> {
    return this.admin.detail(agent, params.uid, req);
  }

  @Post(':uid/disable')
  @HttpCode(200)
  disable(@CurrentAgent() agent: VerifiedAgent, @Param() params: AgentUidParamDto, @Req() req: Request): Promise<AgentView> {
    return this.admin.setStatus(agent, params.uid, 'disabled', req);
  }

  @Post(':uid/enable')
  @HttpCode(200)
  enable(@CurrentAgent() agent: VerifiedAgent, @Param() params: AgentUidParamDto, @Req() req: Request): Promise<AgentView> {
    return this.admin.setStatus(agent, params.uid, 'active', req);
  }

  @Post(':uid/keys/:kid/revoke')
  @HttpCode(200)
  revoke(@CurrentAgent() agent: VerifiedAgent, @Param() params: AgentKeyParamDto, @Body() body: RevokeKeyDto, @Req() req: Request): Promise<AgentKeyView> {
    return this.admin.revoke(agent, params.uid, params.kid, body.reason, req);
  }
}
