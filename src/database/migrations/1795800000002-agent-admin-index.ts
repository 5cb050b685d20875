import { MigrationInterface, QueryRunner } from 'typeorm';

/** GET /admin/agents pages newest first, optionally by status: one index range scan. */
export class AgentAdminIndex1795800000002 implements MigrationInterface {
  name = 'AgentAdminIndex1795800000002';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "agents_status_created_idx" ON "agents" ("status", "created_at" DESC, "uid" DESC)`);
    await queryRunner.query(`CREATE INDEX "agents_created_idx" ON "agents" ("created_at" DESC, "uid" DESC)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "agents_created_idx"`);
    await queryRunner.query(`DROP INDEX "agents_status_created_idx"`);
  }
}
