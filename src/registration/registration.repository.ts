import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { StoredPublicJwk } from '../agents/entities/public-key.entity';
import type { RequestAuditContext } from '../audit/audit-entry';
import { preparedQuery } from '../database/prepared-query';

export interface NewRegistration {
  uid: string;
  jwk: StoredPublicJwk;
  context: RequestAuditContext;
  detail: Record<string, unknown>;
}

/**
 * New agents, their first key and their `register` audit row, for many
 * registrations in ONE statement (so one transaction and one round trip for
 * a whole group-commit batch). The key goes first with ON CONFLICT DO
 * NOTHING: the kid's primary key decides who wins, and only the winners'
 * agents and audit rows are inserted. The foreign key from the key to its
 * agent is checked at the end of the statement, when both exist.
 */
@Injectable()
export class RegistrationRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Returns the kids that were registered now (the others existed already). */
  async insertNew(rows: readonly NewRegistration[]): Promise<Set<string>> {
    const column = <T>(pick: (r: NewRegistration) => T): T[] => rows.map(pick);
    const created = await preparedQuery<{ kid: string }>(
      this.dataSource,
      'vestauth_register_new',
      `WITH input AS (
         SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::jsonb[], $4::varchar[], $5::varchar[], $6::varchar[],
                              $7::varchar[], $8::varchar[], $9::varchar[], $10::jsonb[])
           WITH ORDINALITY AS t(kid, uid, jwk, method, path, authority, ip, user_agent, request_id, detail, i)),
       k AS (
         INSERT INTO public_keys (kid, agent_uid, jwk, status)
         SELECT kid, uid, jwk, 'active' FROM input ORDER BY i
         ON CONFLICT (kid) DO NOTHING
         RETURNING kid, agent_uid),
       a AS (
         INSERT INTO agents (uid, status) SELECT agent_uid, 'active' FROM k RETURNING uid),
       e AS (
         INSERT INTO audit_events (event, outcome, agent_uid, kid, method, path, authority, ip, user_agent, request_id, detail)
         SELECT 'register', 'success', k.agent_uid, k.kid, input.method, input.path, input.authority, input.ip,
                input.user_agent, input.request_id, input.detail
           FROM k JOIN input ON input.kid = k.kid AND input.uid = k.agent_uid
         RETURNING id)
       SELECT k.kid FROM k JOIN a ON a.uid = k.agent_uid`,
      [
        column((r) => r.jwk.kid),
        column((r) => r.uid),
        column((r) => JSON.stringify(r.jwk)),
        column((r) => r.context.method),
        column((r) => r.context.path),
        column((r) => r.context.authority),
        column((r) => r.context.ip),
        column((r) => r.context.userAgent),
        column((r) => r.context.requestId),
        column((r) => JSON.stringify(r.detail)),
      ],
    );
    return new Set(created.map((r) => r.kid));
  }
}
