import { MigrationInterface, QueryRunner } from 'typeorm';

/** Tamper evidence for the audit trail: a hash chain over sealed batches of events. */
export class AuditSeals1795800000001 implements MigrationInterface {
  name = 'AuditSeals1795800000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "audit_seals" (
      "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
      "first_id" bigint NOT NULL,
      "last_id" bigint NOT NULL,
      "event_count" integer NOT NULL,
      "entries" bytea NOT NULL,
      "prev_hash" bytea NOT NULL,
      "hash" bytea NOT NULL,
      "sealed_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
      CONSTRAINT "PK_audit_seals" PRIMARY KEY ("id"),
      CONSTRAINT "audit_seals_range_check" CHECK (first_id <= last_id AND event_count >= 0),
      CONSTRAINT "audit_seals_last_id_unique" UNIQUE ("last_id"))`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_seals"`);
  }
}
