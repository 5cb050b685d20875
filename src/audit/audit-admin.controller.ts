import { Controller, Get, Headers, Query, Req, Res, StreamableFile } from '@nestjs/common';
import type { Request, Response } from 'express';
import { SignedAgent } from '../verification/signed-agent.decorator';
import { CurrentAgent } from '../verification/verified-agent.decorator';
import type { VerifiedAgent } from '../verification/verified-agent';
import { AuditAdminService } from './audit-admin.service';
import { AuditPage, AuditQueryDto, AuditSummary, AuditSummaryQueryDto } from './dto/audit-query.dto';
import type { ChainReport } from './audit-integrity.service';

@Controller('admin/audit-events')
@SignedAgent({ admin: true })
export class AuditAdminController {
  constructor(private readonly admin: AuditAdminService) {}

  /** JSON page by default; CSV (streamed, any range) with format=csv or Accept: text/csv. */
  @Get()
  async list(
    @CurrentAgent() agent: VerifiedAgent,
    @Query() query: AuditQueryDto,
    @Headers('accept') accept: string | undefined,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<AuditPage | StreamableFile> {
    if (query.format === 'csv' || (query.format === undefined && accept?.includes('text/csv'))) {
      res.setHeader('Content-Disposition', 'attachment; filename="audit-events.csv"');
      return new StreamableFile(await this.admin.csv(agent, query, req), { type: 'text/csv; charset=utf-8' });
    }
    return this.admin.page(agent, query, req);
  }

  @Get('summary')
  summary(@CurrentAgent() agent: VerifiedAgent, @Query() query: AuditSummaryQueryDto, @Req() req: Request): Promise<AuditSummary> {
    return this.admin.summary(agent, query, req);
  }

  @Get('verify')
  verify(@CurrentAgent() agent: VerifiedAgent, @Req() req: Request): Promise<ChainReport> {
    return this.admin.verifyChain(agent, req);
  }
}
