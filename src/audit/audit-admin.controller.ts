import { adminActorOf } from './audit-entry';
import { Controller, Get, Headers, Query, Req, StreamableFile } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Request } from 'express';
import { ApiErrors } from '../common/http/openapi.decorators';
import { SignedAgent } from '../verification/signed-agent.decorator';
import { CurrentAgent } from '../verification/verified-agent.decorator';
import type { VerifiedAgent } from '../verification/verified-agent';
import { AuditAdminService } from './audit-admin.service';
import { csvFile } from './csv-export';
import { AuditPage, AuditQueryDto, AuditSummary, AuditSummaryQueryDto } from './dto/audit-query.dto';
import { ChainBrokenReport, ChainIntactReport, type ChainReport } from './dto/chain-report.dto';

@ApiTags('admin: audit')
@ApiExtraModels(AuditPage, ChainIntactReport, ChainBrokenReport)
@Controller('admin/audit-events')
@SignedAgent({ admin: true })
export class AuditAdminController {
  constructor(private readonly admin: AuditAdminService) {}

  /** JSON page by default; CSV (streamed, any range) with format=csv or Accept: text/csv. */
  @Get()
  @ApiOperation({
    summary: 'Query audit events',
    description:
      'Filters combine with AND. JSON answers one keyset page, newest first (follow `next_cursor`); ' +
      'CSV (`format=csv`, or `Accept: text/csv` without `format`) streams the whole filtered range as an attachment.',
  })
  @ApiOkResponse({
    description: 'A JSON page, or the CSV export (RFC 4180, header row first, the same columns as the JSON events).',
    content: {
      'application/json': { schema: { $ref: getSchemaPath(AuditPage) } },
      'text/csv': { schema: { type: 'string', example: 'id,occurred_at,event,outcome,error_code,agent_uid,kid,method,path,authority,ip,user_agent,request_id,detail\n' } },
    },
  })
  @ApiErrors('VALIDATION_FAILED')
  async list(
    @CurrentAgent() agent: VerifiedAgent,
    @Query() query: AuditQueryDto,
    @Headers('accept') accept: string | undefined,
    @Req() req: Request,
  ): Promise<AuditPage | StreamableFile> {
    if (query.format === 'csv' || (query.format === undefined && accept?.includes('text/csv'))) {
      return csvFile(await this.admin.csv(adminActorOf(agent, req), query), 'audit-events.csv');
    }
    return this.admin.page(adminActorOf(agent, req), query);
  }

  @Get('summary')
  @ApiOperation({ summary: 'Summarize audit events', description: 'Counts by event, outcome and error code, and the agents with the most failures, over an optional time range.' })
  @ApiOkResponse({ type: AuditSummary })
  @ApiErrors('VALIDATION_FAILED')
  summary(@CurrentAgent() agent: VerifiedAgent, @Query() query: AuditSummaryQueryDto, @Req() req: Request): Promise<AuditSummary> {
    return this.admin.summary(adminActorOf(agent, req), query);
  }

  @Get('verify')
  @ApiOperation({
    summary: 'Verify the audit hash chain',
    description: 'Recomputes every seal and every sealed event\'s hash; reports the first broken event. A broken chain is still a 200, with `ok: false`.',
  })
  @ApiOkResponse({ schema: { oneOf: [{ $ref: getSchemaPath(ChainIntactReport) }, { $ref: getSchemaPath(ChainBrokenReport) }] } })
  verify(@CurrentAgent() agent: VerifiedAgent, @Req() req: Request): Promise<ChainReport> {
    return this.admin.verifyChain(adminActorOf(agent, req));
  }
}
