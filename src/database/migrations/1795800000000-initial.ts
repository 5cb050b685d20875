import { MigrationInterface, QueryRunner } from 'typeorm';

/** The schema of DESIGN.md section 5, with the invariants the database enforces itself. */
export class Initial1795800000000 implements MigrationInterface {
    name = 'Initial1795800000000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "agents" ("uid" character varying(30) NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'active', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "disabled_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_005e6516bb460307fe7ff3b1d49" PRIMARY KEY ("uid"))`);
        await queryRunner.query(`CREATE TABLE "public_keys" ("kid" character varying(64) NOT NULL, "agent_uid" character varying(30) NOT NULL, "jwk" jsonb NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'active', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "revoked_at" TIMESTAMP WITH TIME ZONE, "revoked_reason" character varying(200), CONSTRAINT "PK_362cb90fb6b9fd99d3d00b069e7" PRIMARY KEY ("kid"))`);
        await queryRunner.query(`CREATE INDEX "public_keys_agent_uid_idx" ON "public_keys"  ("agent_uid") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "public_keys_one_active_per_agent" ON "public_keys"  ("agent_uid") WHERE status = 'active'`);
        await queryRunner.query(`CREATE TABLE "used_nonces" ("kid" character varying(64) NOT NULL, "nonce_hash" bytea NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_30cf535ce95efff362166b615d6" PRIMARY KEY ("kid", "nonce_hash"))`);
        await queryRunner.query(`CREATE INDEX "used_nonces_expires_at_idx" ON "used_nonces"  ("expires_at") `);
        await queryRunner.query(`CREATE TABLE "audit_events" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT clock_timestamp(), "event" character varying(16) NOT NULL, "outcome" character varying(8) NOT NULL, "error_code" character varying(40), "agent_uid" character varying(30), "kid" character varying(64), "method" character varying(10), "path" character varying(512), "authority" character varying(260), "ip" character varying(64), "user_agent" character varying(256), "request_id" character varying(64), "detail" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "PK_910f64d901a5c3e9878f0d4a407" PRIMARY KEY ("id"))`);
        // Admin queries filter by one of these and page newest first by (occurred_at, id).
        await queryRunner.query(`CREATE INDEX "audit_events_occurred_at_idx" ON "audit_events" ("occurred_at" DESC, "id" DESC)`);
        await queryRunner.query(`CREATE INDEX "audit_events_error_code_idx" ON "audit_events" ("error_code", "occurred_at" DESC, "id" DESC) WHERE error_code IS NOT NULL`);
        await queryRunner.query(`CREATE INDEX "audit_events_event_outcome_idx" ON "audit_events" ("event", "outcome", "occurred_at" DESC, "id" DESC)`);
        await queryRunner.query(`CREATE INDEX "audit_events_agent_idx" ON "audit_events" ("agent_uid", "occurred_at" DESC, "id" DESC) WHERE agent_uid IS NOT NULL`);
        await queryRunner.query(`ALTER TABLE "agents" ADD CONSTRAINT "agents_status_check" CHECK (status IN ('active', 'disabled'))`);
        await queryRunner.query(`ALTER TABLE "agents" ADD CONSTRAINT "agents_uid_format_check" CHECK (uid ~ '^agent-[0-9a-f]{24}$')`);
        await queryRunner.query(`ALTER TABLE "public_keys" ADD CONSTRAINT "public_keys_status_check" CHECK (status IN ('active', 'revoked'))`);
        await queryRunner.query(`ALTER TABLE "public_keys" ADD CONSTRAINT "public_keys_revoked_check" CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))`);
        await queryRunner.query(`ALTER TABLE "public_keys" ADD CONSTRAINT "public_keys_jwk_public_only_check" CHECK (NOT (jwk ?| array['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']))`);
        await queryRunner.query(`ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_event_check" CHECK (event IN ('register', 'rotate', 'verify', 'revoke', 'disable', 'enable', 'purge', 'admin_query'))`);
        await queryRunner.query(`ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_outcome_check" CHECK (outcome IN ('success', 'failure'))`);
        await queryRunner.query(`ALTER TABLE "public_keys" ADD CONSTRAINT "FK_ef9cb7e6126f90d9de8c31d08a8" FOREIGN KEY ("agent_uid") REFERENCES "agents"("uid") ON DELETE RESTRICT ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "public_keys" DROP CONSTRAINT "FK_ef9cb7e6126f90d9de8c31d08a8"`);
        await queryRunner.query(`DROP INDEX "public"."audit_events_agent_idx"`);
        await queryRunner.query(`DROP INDEX "public"."audit_events_event_outcome_idx"`);
        await queryRunner.query(`DROP INDEX "public"."audit_events_error_code_idx"`);
        await queryRunner.query(`DROP INDEX "public"."audit_events_occurred_at_idx"`);
        await queryRunner.query(`DROP TABLE "audit_events"`);
        await queryRunner.query(`DROP INDEX "public"."used_nonces_expires_at_idx"`);
        await queryRunner.query(`DROP TABLE "used_nonces"`);
        await queryRunner.query(`DROP INDEX "public"."public_keys_one_active_per_agent"`);
        await queryRunner.query(`DROP INDEX "public"."public_keys_agent_uid_idx"`);
        await queryRunner.query(`DROP TABLE "public_keys"`);
        await queryRunner.query(`DROP TABLE "agents"`);
    }

}
