import { Body, Controller, Get, Post } from '@nestjs/common';
import { SignedAgent } from '../../src/verification/signed-agent.decorator';
import { CurrentAgent } from '../../src/verification/verified-agent.decorator';
import type { VerifiedAgent } from '../../src/verification/verified-agent';
import { CreateReportDto } from './create-report.dto';
import { Report, ReportsService } from './reports.service';

export interface ReportList {
  /** The verified caller, as the authority knows it. */
  agent: string;
  reports: Report[];
}

@Controller()
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  /** For load balancers and uptime checks: no signature needed. */
  @Get('health')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('reports')
  @SignedAgent()
  list(@CurrentAgent() agent: VerifiedAgent): ReportList {
    return { agent: agent.uid, reports: this.reports.list() };
  }

  // A signature over @authority alone would authorize any method, path and
  // body on this host to whoever intercepts it before use; a write binds all
  // three (the body through its RFC 9530 digest).
  @Post('reports')
  @SignedAgent({ components: ['@method', '@path', 'content-digest'] })
  create(@CurrentAgent() agent: VerifiedAgent, @Body() body: CreateReportDto): Report {
    return this.reports.create(body.title, agent.uid);
  }
}
