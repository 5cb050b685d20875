import { adminActorOf } from '../audit/audit-entry';
import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ApiErrors, BODY_ERROR_CODES } from '../common/http/openapi.decorators';
import { SignedAgent } from '../verification/signed-agent.decorator';
import { CurrentAgent } from '../verification/verified-agent.decorator';
import type { VerifiedAgent } from '../verification/verified-agent';
import { AgentAdminService } from './agent-admin.service';
import { AgentDetail, AgentKeyParamDto, AgentKeyView, AgentListQueryDto, AgentListResponse, AgentUidParamDto, AgentView, RevokeKeyDto } from './dto/agent-admin.dto';

@ApiTags('admin: agents')
@Controller('admin/agents')
@SignedAgent({ admin: true })
export class AgentsAdminController {
  constructor(private readonly admin: AgentAdminService) {}

  @Get()
  @ApiOperation({ summary: 'List agents', description: 'Newest first (created_at, then uid, descending), keyset-paginated with `cursor`.' })
  @ApiOkResponse({ type: AgentListResponse })
  @ApiErrors('VALIDATION_FAILED')
  list(@CurrentAgent() agent: VerifiedAgent, @Query() query: AgentListQueryDto, @Req() req: Request): Promise<AgentListResponse> {
    return this.admin.list(adminActorOf(agent, req), query);
  }

  @Get(':uid')
  @ApiOperation({ summary: 'Show an agent', description: 'The agent, all its keys (active and revoked) and its latest audit events.' })
  @ApiOkResponse({ type: AgentDetail })
  @ApiErrors('VALIDATION_FAILED', 'UNKNOWN_AGENT')
  detail(@CurrentAgent() agent: VerifiedAgent, @Param() params: AgentUidParamDto, @Req() req: Request): Promise<AgentDetail> {
    return this.admin.detail(adminActorOf(agent, req), params.uid);
  }

  @Post(':uid/disable')
  @HttpCode(200)
  @ApiOperation({ summary: 'Disable an agent', description: 'Its signatures stop verifying (here at once, elsewhere within the key cache bound). Idempotent.' })
  @ApiOkResponse({ type: AgentView })
  @ApiErrors(...BODY_ERROR_CODES, 'VALIDATION_FAILED', 'UNKNOWN_AGENT')
  disable(@CurrentAgent() agent: VerifiedAgent, @Param() params: AgentUidParamDto, @Req() req: Request): Promise<AgentView> {
    return this.admin.setStatus(adminActorOf(agent, req), params.uid, 'disabled');
  }

  @Post(':uid/enable')
  @HttpCode(200)
  @ApiOperation({ summary: 'Enable a disabled agent', description: 'Idempotent.' })
  @ApiOkResponse({ type: AgentView })
  @ApiErrors(...BODY_ERROR_CODES, 'VALIDATION_FAILED', 'UNKNOWN_AGENT')
  enable(@CurrentAgent() agent: VerifiedAgent, @Param() params: AgentUidParamDto, @Req() req: Request): Promise<AgentView> {
    return this.admin.setStatus(adminActorOf(agent, req), params.uid, 'active');
  }

  @Post(':uid/keys/:kid/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a key', description: 'The key stops verifying and can never be registered again. Idempotent.' })
  @ApiOkResponse({ type: AgentKeyView })
  @ApiErrors(...BODY_ERROR_CODES, 'VALIDATION_FAILED', 'NOT_FOUND')
  revoke(@CurrentAgent() agent: VerifiedAgent, @Param() params: AgentKeyParamDto, @Body() body: RevokeKeyDto, @Req() req: Request): Promise<AgentKeyView> {
    return this.admin.revoke(adminActorOf(agent, req), params.uid, params.kid, body.reason);
  }
}
