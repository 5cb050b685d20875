import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every change to a key or an agent notifies the instances' key caches
 * (src/verification/key-invalidation.ts) from the database itself: a trigger
 * sends the NOTIFY in the changing statement's transaction, so a change made
 * in plain SQL (an operator revoking a key by hand during an incident) is
 * seen by every instance at once, exactly as one made through the service,
 * and no change can commit without its notification.
 */
export class KeyChangeNotify1795800000004 implements MigrationInterface {
  name = 'KeyChangeNotify1795800000004';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION vestauth_notify_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'TRUNCATE' THEN
          PERFORM pg_notify('vestauth_key_changes', '{"all":true}');
        ELSIF TG_TABLE_NAME = 'public_keys' THEN
          PERFORM pg_notify('vestauth_key_changes', json_build_object('kid', OLD.kid, 'uid', OLD.agent_uid)::text);
        ELSE
          PERFORM pg_notify('vestauth_key_changes', json_build_object('uid', OLD.uid)::text);
        END IF;
        RETURN NULL;
      END
      $$`);
    for (const table of ['public_keys', 'agents']) {
      await queryRunner.query(`CREATE TRIGGER "${table}_notify_change" AFTER UPDATE OR DELETE ON "${table}" FOR EACH ROW EXECUTE FUNCTION vestauth_notify_key_change()`);
      await queryRunner.query(`CREATE TRIGGER "${table}_notify_truncate" AFTER TRUNCATE ON "${table}" FOR EACH STATEMENT EXECUTE FUNCTION vestauth_notify_key_change()`);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['public_keys', 'agents']) {
      await queryRunner.query(`DROP TRIGGER "${table}_notify_truncate" ON "${table}"`);
      await queryRunner.query(`DROP TRIGGER "${table}_notify_change" ON "${table}"`);
    }
    await queryRunner.query(`DROP FUNCTION vestauth_notify_key_change()`);
  }
}
