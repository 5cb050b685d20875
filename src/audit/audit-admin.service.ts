import type { Readable } from 'node:stream';
import { Injectable, Logger } from '@nestjs/common';
import type { AdminActor } from './audit-entry';
import { AuditService } from './audit.service';
import { AuditQueryService } from './audit-query.service';
import { AuditIntegrityService } from './audit-integrity.service';
import type { ChainReport } from './dto/chain-report.dto';
import { AuditPage, AuditQueryDto, AuditSummary, AuditSummaryQueryDto } from './dto/audit-query.dto';

/** Admin reads of the trail; every one is itself recorded as an admin_query event. */
@Injectable()
export class AuditAdminService {
  private readonly logger = new Logger(AuditAdminService.name);
  constructor(
    private readonly audit: AuditService,
    private readonly queries: AuditQueryService,
    private readonly integrity: AuditIntegrityService,
  ) {}

  async page(admin: AdminActor, query: AuditQueryDto): Promise<AuditPage> {
    const page = await this.queries.page(query);
    await this.recordQuery(admin, { query: 'audit-events', returned: page.events.length });
    return page;
  }

  async csv(admin: AdminActor, query: AuditQueryDto): Promise<Readable> {
    await this.recordQuery(admin, { query: 'audit-events', format: 'csv' });
    return this.queries.csv(query);
  }

  async summary(admin: AdminActor, query: AuditSummaryQueryDto): Promise<AuditSummary> {
    const summary = await this.queries.summary(query);
    await this.recordQuery(admin, { query: 'audit-summary' });
    return summary;
  }

  async verifyChain(admin: AdminActor): Promise<ChainReport> {
    const report = await this.integrity.verify();
    if (!report.ok) {
      // Whoever asked, the on-call engineer must hear of it too (the report goes only to the caller).
      this.logger.error(
        `Audit chain check by ${admin.uid}: broken at event id ${report.first_broken_id} (${report.reason}), after ${report.checked} event(s) checked; ` +
          'events from that id on may have been edited or removed: keep the database as it is and compare with a backup and the "Sealed audit events" log lines',
      );
    }
    await this.recordQuery(admin, report.ok ? { query: 'audit-verify', ok: true } : { query: 'audit-verify', ok: false, first_broken_id: report.first_broken_id, reason: report.reason });
    return report;
  }

  private recordQuery(admin: AdminActor, detail: Record<string, unknown>): Promise<void> {
    return this.audit.record({ event: 'admin_query', outcome: 'success', agentUid: admin.uid.startsWith('agent-') ? admin.uid : null, kid: admin.kid, context: admin.context, detail: { ...detail, admin: admin.uid } });
  }
}
