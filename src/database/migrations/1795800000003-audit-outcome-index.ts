import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * GET /admin/audit-events?outcome=… alone: audit_events_event_outcome_idx
 * starts with event, so without this the page scans occurred_at_idx and
 * filters, reading more of the table the rarer the outcome. Same tail as the
 * other audit indexes, for the keyset ORDER BY occurred_at DESC, id DESC.
 */
export class AuditOutcomeIndex1795800000003 implements MigrationInterface {
  name = 'AuditOutcomeIndex1795800000003';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "audit_events_outcome_idx" ON "audit_events" ("outcome", "occurred_at" DESC, "id" DESC)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "audit_events_outcome_idx"`);
  }
}
