import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import type { VerifiedAgent } from '../verification/verified-agent';
import { auditContextOf } from './audit-entry';
import { AuditService } from './audit.service';
import { AuditQueryService } from './audit-query.service';
import { AuditIntegrityService } from './audit-integrity.service';
import type { ChainReport } from './dto/chain-report.dto';
import { AuditPage, AuditQueryDto, AuditSummary, AuditSummaryQueryDto } from './dto/audit-query.dto';

/** Admin reads of the trail; every one is itself recorded as an admin_query event. */
@Injectable()
export class AuditAdminService {
  constructor(
    private readonly audit: AuditService,
    private readonly queries: AuditQueryService,
    private readonly integrity: AuditIntegrityService,
  ) {}

  async page(admin: VerifiedAgent, query: AuditQueryDto, req: Request): Promise<AuditPage> {
    const page = await this.queries.page(query);
    await this.recordQuery(admin, req, { query: 'audit-events', returned: page.events.length });
    return page;
  }

  async csv(admin: VerifiedAgent, query: AuditQueryDto, req: Request): Promise<Readable> {
    await this.recordQuery(admin, req, { query: 'audit-events', format: 'csv' });
    return this.queries.csv(query);
  }

  async summary(admin: VerifiedAgent, query: AuditSummaryQueryDto, req: Request): Promise<AuditSummary> {
    const summary = await this.queries.summary(query);
    await this.recordQuery(admin, req, { query: 'audit-summary' });
    return summary;
  }

  async verifyChain(admin: VerifiedAgent, req: Request): Promise<ChainReport> {
    const report = await this.integrity.verify();
    await this.recordQuery(admin, req, { query: 'audit-verify', ok: report.ok });
    return report;
  }

  private recordQuery(admin: VerifiedAgent, req: Request, detail: Record<string, unknown>): Promise<void> {
    return this.audit.record({ event: 'admin_query', outcome: 'success', agentUid: admin.uid, kid: admin.kid, context: auditContextOf(req), detail });
  }
}
