import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The columns the key caches depend on: an UPDATE that changes none of them
 * (a maintenance touch of `updated_at`, `SET status = status`) notifies
 * nobody, so a bulk statement costs the instances nothing it need not.
 */
const CACHED_COLUMNS: Record<'public_keys' | 'agents', string[]> = {
  public_keys: ['kid', 'agent_uid', 'status', 'jwk'],
  agents: ['uid', 'status'],
};

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
    for (const [table, columns] of Object.entries(CACHED_COLUMNS)) {
      const changed = columns.map((column) => `OLD.${column} IS DISTINCT FROM NEW.${column}`).join(' OR ');
      await queryRunner.query(`CREATE TRIGGER "${table}_notify_update" AFTER UPDATE ON "${table}" FOR EACH ROW WHEN (${changed}) EXECUTE FUNCTION vestauth_notify_key_change()`);
      await queryRunner.query(`CREATE TRIGGER "${table}_notify_delete" AFTER DELETE ON "${table}" FOR EACH ROW EXECUTE FUNCTION vestauth_notify_key_change()`);
      await queryRunner.query(`CREATE TRIGGER "${table}_notify_truncate" AFTER TRUNCATE ON "${table}" FOR EACH STATEMENT EXECUTE FUNCTION vestauth_notify_key_change()`);
      // Also in sessions with session_replication_role = replica (restore and replication tools), which skip ordinary triggers.
      for (const event of ['update', 'delete', 'truncate']) {
        await queryRunner.query(`ALTER TABLE "${table}" ENABLE ALWAYS TRIGGER "${table}_notify_${event}"`);
      }
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of Object.keys(CACHED_COLUMNS)) {
      for (const event of ['truncate', 'delete', 'update']) await queryRunner.query(`DROP TRIGGER "${table}_notify_${event}" ON "${table}"`);
    }
    await queryRunner.query(`DROP FUNCTION vestauth_notify_key_change()`);
  }
}
