import { Logger } from '@nestjs/common';
import request from 'supertest';
import type { Response } from 'supertest';
import { unpackEntries } from '../src/audit/audit-chain';
import { AuditIntegrityService } from '../src/audit/audit-integrity.service';
import { AuditRetentionService } from '../src/audit/audit-retention.service';
import { agentHeaders, agentKeyPair, registerAgent, RegisteredAgent } from './factories/agent.factory';
import { startTestApp, startTestAppWithAdmin, TestApp } from './support/test-app';

const DIRECTORY = '/.well-known/http-message-signatures-directory';
const USER_AGENT = 'audit-e2e/1.0';
const EVENT_FIELDS = ['id', 'occurred_at', 'event', 'outcome', 'error_code', 'agent_uid', 'kid', 'method', 'path', 'authority', 'ip', 'user_agent', 'request_id', 'detail'];

interface EventRow {
  id: string;
  occurred_at: string;
  event: string;
  outcome: string;
  error_code: string | null;
  agent_uid: string | null;
  kid: string | null;
  request_id: string | null;
  detail: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A timestamp strictly after every event committed so far and before any later one (ms precision on the wire). */
async function boundary(): Promise<string> {
  await sleep(3);
  const at = new Date().toISOString();
  await sleep(3);
  return at;
}

/** RFC 4180: quoted fields, doubled quotes, line breaks inside quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  const endField = () => {
    row.push(field);
    field = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '"' && text[i + 1] === '"') {
      field += '"';
      i++;
    } else if (c === '"') {
      quoted = !quoted;
    } else if (!quoted && c === ',') {
      endField();
    } else if (!quoted && c === '\n') {
      endField();
      rows.push(row);
      row = [];
    } else {
      field += c;
    }
  }
  if (field !== '' || row.length > 0) {
    endField();
    rows.push(row);
  }
  return rows;
}

describe('Audit trail and admin API (e2e)', () => {
  let t: TestApp;
  let authority: string;
  let admin: RegisteredAgent;
  const http = () => request(t.url);

  /** The agent as it signs against the current app (the port is part of its Signature-Agent URL). */
  const adminGet = (path: string) => http().get(path).set(agentHeaders(admin, authority)).set('User-Agent', USER_AGENT);
  const adminPost = (path: string) => http().post(path).set(agentHeaders(admin, authority)).set('User-Agent', USER_AGENT);
  const whoami = (agent: RegisteredAgent, overrides: Parameters<typeof agentHeaders>[2] = {}) =>
    http().get('/whoami').set(agentHeaders(agent, authority, overrides)).set('User-Agent', USER_AGENT);
  const directory = (uid: string) => http().get(DIRECTORY).set('Host', `${uid}.${authority}`);
  const register = () => registerAgent(t.url, authority);
  const requestId = (res: Response) => res.headers['x-request-id'] as string;
  const rowsOf = (res: Response): Promise<Array<{ event: string; outcome: string; error_code: string | null; agent_uid: string | null; detail: Record<string, unknown> }>> =>
    t.dataSource.query(`SELECT event, outcome, error_code, agent_uid, detail FROM audit_events WHERE request_id = $1 ORDER BY id`, [requestId(res)]);
  const seal = () => t.app.get(AuditIntegrityService).sealPending();
  const verifyChain = async () => (await adminGet('/admin/audit-events/verify').expect(200)).body;
  const sealedCount = async (): Promise<number> =>
    (await t.dataSource.query(`SELECT count(*)::int AS n FROM audit_events WHERE id <= (SELECT coalesce(max(last_id), 0) FROM audit_seals)`))[0].n;

  /** Deletes the oldest seal and the events it covers, as a database writer could; returns what puts them back. */
  const deleteHead = async () => {
    const [head, next]: Array<{ id: string; first_id: string; last_id: string; row: string }> = await t.dataSource.query(
      `SELECT id::text AS id, first_id::text AS first_id, last_id::text AS last_id, to_jsonb(s)::text AS row FROM audit_seals s ORDER BY s.id LIMIT 2`,
    );
    expect(next).toBeDefined();
    const [{ events }] = await t.dataSource.query(`SELECT coalesce(jsonb_agg(to_jsonb(e)), '[]')::text AS events FROM audit_events e WHERE id BETWEEN $1 AND $2`, [head.first_id, head.last_id]);
    await t.dataSource.query(`DELETE FROM audit_events WHERE id BETWEEN $1 AND $2`, [head.first_id, head.last_id]);
    await t.dataSource.query(`DELETE FROM audit_seals WHERE id = $1`, [head.id]);
    return {
      head,
      next,
      restore: async () => {
        await t.dataSource.query(`INSERT INTO audit_events OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_recordset(NULL::audit_events, $1::jsonb)`, [events]);
        await t.dataSource.query(`INSERT INTO audit_seals OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_record(NULL::audit_seals, $1::jsonb)`, [head.row]);
      },
    };
  };

  beforeAll(async () => {
    ({ app: t, admin } = await startTestAppWithAdmin({
      AUDIT_SEAL_GRACE_SECONDS: '0',
      // Only explicit sealPending() seals, so the counts below are exact.
      AUDIT_SEAL_INTERVAL_SECONDS: '3600',
      // Longest allowed: revocation "at once" must come from invalidation, not expiry.
      KEY_CACHE_TTL_MS: '60000',
    }));
    authority = `localhost:${t.port}`;
  });

  afterAll(async () => {
    await t?.close();
  });

  describe('GET /admin/audit-events filters', () => {
    let a: RegisteredAgent;
    let b: RegisteredAgent;
    let from: string;
    let mid: string;
    let to: string;
    /** Every event of the window, newest first, as the database holds them. */
    let windowRows: EventRow[];
    let firstWhoami: Response;

    const list = async (query: Record<string, string | number>): Promise<EventRow[]> => {
      const res = await adminGet('/admin/audit-events').query({ limit: 500, ...query }).expect(200);
      return res.body.events;
    };
    const ids = (rows: EventRow[]) => rows.map((r) => r.id);

    beforeAll(async () => {
      const requestIds: string[] = [];
      const track = (res: Response) => {
        requestIds.push(requestId(res));
        return res;
      };
      from = await boundary();
      a = await register();
      b = await register();
      firstWhoami = track(await whoami(a).expect(200));
      track(await whoami(a).expect(200));
      const stranger = agentKeyPair();
      track(await whoami(b, { signingKey: stranger.privateKey }).expect(401));
      track(await whoami(b, { signingKey: stranger.privateKey }).expect(401));
      mid = await boundary();
      const old = Math.floor(Date.now() / 1000) - 1000;
      track(await whoami(b, { created: old, expires: old + 300 }).expect(401));
      track(await whoami(a, { keyid: stranger.kid }).expect(401));
      const next = agentKeyPair();
      track(await http().post('/rotate').set(agentHeaders(a, authority)).send({ public_jwk: next.publicJwk }).expect(200));
      a = { ...next, uid: a.uid, agentUrl: a.agentUrl };
      track(await whoami(a).expect(200));
      to = await boundary();
      windowRows = await t.dataSource.query(
        `SELECT id::text AS id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at,
                event, outcome, error_code, agent_uid, kid, request_id, detail
           FROM audit_events e WHERE occurred_at >= $1 AND occurred_at < $2 ORDER BY e.occurred_at DESC, e.id DESC`,
        [from, to],
      );
      // The window holds exactly this block's events (two registrations have no tracked id).
      expect(windowRows.filter((r) => r.event === 'register').map((r) => r.agent_uid).sort()).toEqual([a.uid, b.uid].sort());
      expect(windowRows.filter((r) => r.event !== 'register').map((r) => r.request_id).sort()).toEqual([...requestIds].sort());
    });

    it('returns the exact event shape, newest first, with next_cursor', async () => {
      const res = await adminGet('/admin/audit-events').query({ from, to }).expect(200);
      expect(Object.keys(res.body).sort()).toEqual(['events', 'next_cursor']);
      expect(res.body.next_cursor).toBeNull();
      expect(ids(res.body.events)).toEqual(ids(windowRows));
      for (const event of res.body.events) expect(Object.keys(event).sort()).toEqual([...EVENT_FIELDS].sort());
      const first = res.body.events.find((e: EventRow) => e.request_id === requestId(firstWhoami));
      expect(first).toEqual({
        id: expect.stringMatching(/^\d+$/),
        occurred_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
        event: 'verify',
        outcome: 'success',
        error_code: null,
        agent_uid: a.uid,
        kid: windowRows.find((r) => r.event === 'register' && r.agent_uid === a.uid)!.kid,
        method: 'GET',
        path: '/whoami',
        authority,
        ip: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$|^::1$/),
        user_agent: USER_AGENT,
        request_id: requestId(firstWhoami),
        detail: { components: ['@authority'] },
      });
      expect(Date.parse(first.occurred_at)).toBeGreaterThanOrEqual(Date.parse(from));
    });

    it('filters by agent_uid', async () => {
      const rows = await list({ agent_uid: b.uid });
      expect(rows.map((r) => [r.event, r.outcome, r.error_code])).toEqual([
        ['verify', 'failure', 'EXPIRED_SIGNATURE'],
        ['verify', 'failure', 'INVALID_SIGNATURE'],
        ['verify', 'failure', 'INVALID_SIGNATURE'],
        ['register', 'success', null],
      ]);
      expect(ids(await list({ agent_uid: a.uid }))).toEqual(ids(windowRows.filter((r) => r.agent_uid === a.uid)));
    });

    it('filters by event', async () => {
      const rotations = await list({ event: 'rotate' });
      expect(rotations.every((r) => r.event === 'rotate')).toBe(true);
      expect(rotations[0]).toMatchObject({ agent_uid: a.uid, outcome: 'success', detail: { new_kid: a.kid } });
      expect(ids(await list({ event: 'verify', from, to }))).toEqual(ids(windowRows.filter((r) => r.event === 'verify')));
    });

    it('filters by outcome', async () => {
      const failures = await list({ outcome: 'failure', from, to });
      expect(ids(failures)).toEqual(ids(windowRows.filter((r) => r.outcome === 'failure')));
      expect(failures).toHaveLength(4);
      const successes = await list({ outcome: 'success', from, to });
      expect(ids(successes)).toEqual(ids(windowRows.filter((r) => r.outcome === 'success')));
    });

    it('filters by error_code', async () => {
      const invalid = await list({ error_code: 'INVALID_SIGNATURE', limit: 2 });
      expect(invalid.map((r) => [r.agent_uid, r.error_code])).toEqual([
        [b.uid, 'INVALID_SIGNATURE'],
        [b.uid, 'INVALID_SIGNATURE'],
      ]);
      const unknownKey = await list({ error_code: 'UNKNOWN_KEY', from, to });
      expect(unknownKey.map((r) => [r.agent_uid, r.event, r.outcome])).toEqual([[a.uid, 'verify', 'failure']]);
    });

    it('filters by from and to, from inclusive and to exclusive', async () => {
      const before = windowRows.filter((r) => r.occurred_at < mid);
      const after = windowRows.filter((r) => r.occurred_at >= mid);
      expect(before.length).toBeGreaterThan(0);
      expect(after.length).toBeGreaterThan(0);
      expect(ids(await list({ from, to: mid }))).toEqual(ids(before));
      expect(ids(await list({ from: mid, to }))).toEqual(ids(after));
      // `to` alone: the newest events before it are this window's.
      expect(ids(await list({ to, limit: windowRows.length }))).toEqual(ids(windowRows));
      // `from` alone: everything since, including later admin traffic.
      const since = await list({ from: mid });
      expect(since.every((r) => r.occurred_at >= mid)).toBe(true);
      expect(ids(since)).toEqual(expect.arrayContaining(ids(after)));
      const exact = windowRows[windowRows.length - 1];
      expect(ids(await list({ from: exact.occurred_at, to: mid }))).toEqual(ids(before));
    });

    it('combines every filter', async () => {
      const rows = await list({ agent_uid: b.uid, event: 'verify', outcome: 'failure', error_code: 'INVALID_SIGNATURE', from, to: mid });
      expect(ids(rows)).toEqual(ids(windowRows.filter((r) => r.agent_uid === b.uid && r.error_code === 'INVALID_SIGNATURE')));
      expect(rows).toHaveLength(2);
      expect(await list({ agent_uid: b.uid, event: 'verify', outcome: 'failure', error_code: 'INVALID_SIGNATURE', from: mid, to })).toEqual([]);
      expect(await list({ agent_uid: a.uid, outcome: 'failure', error_code: 'INVALID_SIGNATURE' })).toEqual([]);
    });

    it('refuses malformed filters with 400 VALIDATION_FAILED', async () => {
      for (const query of [{ agent_uid: 'bob' }, { event: 'login' }, { outcome: 'maybe' }, { error_code: 'x;drop' }, { from: 'yesterday' }, { to: '2026-13-40' }, { format: 'xml' }]) {
        const res = await adminGet('/admin/audit-events').query(query).expect(400);
        expect(res.body.error).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
      }
    });

    it('refuses a from or to outside years 0001-9999 in UTC with 400 VALIDATION_FAILED, never a 500, in every form', async () => {
      // A four-digit year whose UTC instant is in year 10000: PostgreSQL refused it ("time zone displacement out of range").
      const late = ['9999-12-31T23:00:00-01:00', '9999-12-31T23:59:59-00:01'];
      const expectRefused = (res: Response, field: 'from' | 'to') => {
        expect(res.status).toBe(400);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect(res.body).toEqual({ error: { status: 400, code: 'VALIDATION_FAILED', message: `${field}: ${field} must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z` } });
      };
      for (const value of late) {
        for (const field of ['from', 'to'] as const) {
          expectRefused(await adminGet('/admin/audit-events').query({ [field]: value }), field);
          expectRefused(await adminGet('/admin/audit-events').query({ [field]: value, format: 'csv' }), field);
          expectRefused(await adminGet('/admin/audit-events').query({ [field]: value }).set('Accept', 'text/csv'), field);
          expectRefused(await adminGet('/admin/audit-events/summary').query({ [field]: value }), field);
        }
      }
      // The last instant in range still answers.
      const edge = await adminGet('/admin/audit-events/summary').query({ from, to: '9999-12-31T22:59:59.999-01:00' }).expect(200);
      expect(edge.body.to).toBe('9999-12-31T23:59:59.999Z');
      await adminGet('/admin/audit-events').query({ from: '9999-12-31T23:59:59.999Z', format: 'csv' }).expect(200);
    });

    it('summarises a time window: counts by event, outcome and error code, top failing agents', async () => {
      const res = await adminGet('/admin/audit-events/summary').query({ from, to }).expect(200);
      expect(res.body).toEqual({
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        total: windowRows.length,
        by_event: { register: 2, verify: 7, rotate: 1 },
        by_outcome: { success: 6, failure: 4 },
        by_error_code: { INVALID_SIGNATURE: 2, EXPIRED_SIGNATURE: 1, UNKNOWN_KEY: 1 },
        top_failing_agents: [
          { agent_uid: b.uid, failures: 3 },
          { agent_uid: a.uid, failures: 1 },
        ],
      });
      expect(windowRows).toHaveLength(10);
      const empty = await adminGet('/admin/audit-events/summary').query({ from: to, to: to }).expect(200);
      expect(empty.body).toMatchObject({ total: 0, by_event: {}, by_outcome: {}, by_error_code: {}, top_failing_agents: [] });
    });
  });

  describe('limit and keyset pagination', () => {
    let p: RegisteredAgent;
    /** p's events at the start, newest first. */
    let original: string[];

    beforeAll(async () => {
      p = await register();
      for (let i = 0; i < 54; i++) await whoami(p).expect(200);
      original = (await t.dataSource.query(`SELECT id::text AS id FROM audit_events e WHERE agent_uid = $1 ORDER BY e.occurred_at DESC, e.id DESC`, [p.uid])).map(
        (r: { id: string }) => r.id,
      );
      expect(original).toHaveLength(55);
    });

    it('returns 50 by default, at most 500, and refuses 501 or 0', async () => {
      const page = await adminGet('/admin/audit-events').query({ agent_uid: p.uid }).expect(200);
      expect(page.body.events.map((e: EventRow) => e.id)).toEqual(original.slice(0, 50));
      expect(page.body.next_cursor).toEqual(expect.any(String));
      const all = await adminGet('/admin/audit-events').query({ agent_uid: p.uid, limit: 500 }).expect(200);
      expect(all.body.events.map((e: EventRow) => e.id)).toEqual(original);
      expect(all.body.next_cursor).toBeNull();
      const max = await adminGet('/admin/audit-events').query({ limit: 500 }).expect(200);
      // The query saw every event but its own admin_query row, written after it.
      const [{ total }] = await t.dataSource.query(`SELECT count(*)::int AS total FROM audit_events`);
      expect(max.body.events).toHaveLength(Math.min(total - 1, 500));
      for (const limit of ['501', '0', '-1', '2.5', 'ten']) {
        const res = await adminGet('/admin/audit-events').query({ limit }).expect(400);
        expect(res.body.error).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
      }
    });

    it('pages newest first with no overlap and no gap while new events arrive', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: Response = await adminGet('/admin/audit-events')
          .query({ agent_uid: p.uid, limit: 3, ...(cursor ? { cursor } : {}) })
          .expect(200);
        const events: EventRow[] = res.body.events;
        expect(events.length).toBeLessThanOrEqual(3);
        seen.push(...events.map((e) => e.id));
        cursor = res.body.next_cursor;
        pages++;
        // New events for the same agent land between page fetches.
        await whoami(p).expect(200);
        await whoami(p, { signingKey: agentKeyPair().privateKey }).expect(401);
      } while (cursor !== null);
      expect(pages).toBe(Math.ceil(original.length / 3));
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(original);
      const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM audit_events WHERE agent_uid = $1`, [p.uid]);
      expect(n).toBe(original.length + 2 * pages);
    });

    it('a cursor keeps its place with other filters', async () => {
      const first = await adminGet('/admin/audit-events').query({ agent_uid: p.uid, outcome: 'success', limit: 10 }).expect(200);
      const second = await adminGet('/admin/audit-events').query({ agent_uid: p.uid, outcome: 'success', limit: 10, cursor: first.body.next_cursor }).expect(200);
      const firstIds: string[] = first.body.events.map((e: EventRow) => e.id);
      const secondIds: string[] = second.body.events.map((e: EventRow) => e.id);
      expect(secondIds).toHaveLength(10);
      expect(BigInt(secondIds[0])).toBeLessThan(BigInt(firstIds[firstIds.length - 1]));
      expect(second.body.events.every((e: EventRow) => e.outcome === 'success' && e.agent_uid === p.uid)).toBe(true);
    });

    it('refuses an invalid cursor with 400', async () => {
      const forged = (text: string) => Buffer.from(text).toString('base64url');
      for (const cursor of ['not a cursor!', 'x'.repeat(41), forged('e:abc'), forged('id:5'), forged('e:99999999999999999999'), forged('e:9999999999999999999')]) {
        const res = await adminGet('/admin/audit-events').query({ cursor }).expect(400);
        expect(res.body.error).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
      }
    });

    it('exports CSV with format=csv: a header and every event of the range, beyond the page limit', async () => {
      const trick = await http().get('/whoami').set(agentHeaders(p, authority)).set('User-Agent', '=HYPERLINK("http://evil","x"), "quoted"').expect(200);
      const res = await adminGet('/admin/audit-events').query({ agent_uid: p.uid, format: 'csv' }).expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      const rows = parseCsv(res.text);
      expect(rows[0]).toEqual(EVENT_FIELDS);
      const json = await adminGet('/admin/audit-events').query({ agent_uid: p.uid, limit: 500 }).expect(200);
      const events: Array<EventRow & Record<string, unknown>> = json.body.events;
      expect(events.length).toBeGreaterThan(50);
      expect(rows.slice(1)).toHaveLength(events.length);
      rows.slice(1).forEach((row, i) => {
        const event = events[i];
        expect(row[0]).toBe(event.id);
        expect(Object.fromEntries(EVENT_FIELDS.map((f, j) => [f, row[j]]))).toMatchObject({
          occurred_at: event.occurred_at,
          event: event.event,
          outcome: event.outcome,
          error_code: event.error_code ?? '',
          agent_uid: p.uid,
          request_id: event.request_id,
        });
        expect(JSON.parse(row[13])).toEqual(event.detail);
      });
      // A spreadsheet must not run a field as a formula.
      const tricky = rows.find((r) => r[12] === requestId(trick))!;
      expect(tricky[11]).toBe(`'=HYPERLINK("http://evil","x"), "quoted"`);
    });

    it('exports CSV for Accept: text/csv, honouring the filters', async () => {
      const res = await adminGet('/admin/audit-events').query({ agent_uid: p.uid, outcome: 'failure' }).set('Accept', 'text/csv').expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      const rows = parseCsv(res.text);
      expect(rows[0]).toEqual(EVENT_FIELDS);
      const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM audit_events WHERE agent_uid = $1 AND outcome = 'failure'`, [p.uid]);
      expect(rows.slice(1)).toHaveLength(n);
      expect(rows.slice(1).every((r) => r[3] === 'failure' && r[4] === 'INVALID_SIGNATURE')).toBe(true);
      const empty = await adminGet('/admin/audit-events').query({ agent_uid: p.uid, to: '2000-01-01T00:00:00Z', format: 'csv' }).expect(200);
      expect(parseCsv(empty.text)).toEqual([EVENT_FIELDS]);
    });
  });

  describe('access', () => {
    const routes: Array<[method: 'get' | 'post', path: string]> = [
      ['get', '/admin/audit-events'],
      ['get', '/admin/audit-events/summary'],
      ['get', '/admin/audit-events/verify'],
      ['get', '/admin/agents'],
      ['get', `/admin/agents/agent-${'0'.repeat(24)}`],
      ['post', `/admin/agents/agent-${'0'.repeat(24)}/disable`],
      ['post', `/admin/agents/agent-${'0'.repeat(24)}/enable`],
      ['post', `/admin/agents/agent-${'0'.repeat(24)}/keys/${'A'.repeat(43)}/revoke`],
    ];

    it.each(routes)('%s %s: unsigned is 401', async (method, path) => {
      const res = await http()[method](path).send({ reason: 'x' }).expect(401);
      expect(res.body.error).toMatchObject({ status: 401, code: expect.stringMatching(/^MISSING_SIGNATURE(_INPUT)?$/) });
    });

    it.each(routes)('%s %s: a signed non-admin is 403 FORBIDDEN, audited', async (method, path) => {
      const agent = await register();
      const res = await http()[method](path).set(agentHeaders(agent, authority)).send({ reason: 'x' }).expect(403);
      expect(res.body.error).toMatchObject({ status: 403, code: 'FORBIDDEN' });
      expect(await rowsOf(res)).toEqual([expect.objectContaining({ event: 'verify', outcome: 'failure', error_code: 'FORBIDDEN', agent_uid: agent.uid })]);
    });

    it('every admin read is 200 and writes an admin_query row', async () => {
      const reads = [
        adminGet('/admin/audit-events'),
        adminGet('/admin/audit-events').query({ format: 'csv' }),
        adminGet('/admin/audit-events/summary'),
        adminGet('/admin/audit-events/verify'),
        adminGet('/admin/agents'),
        adminGet(`/admin/agents/${admin.uid}`),
      ];
      for (const read of reads) {
        const res = await read.expect(200);
        expect(await rowsOf(res)).toEqual([
          expect.objectContaining({ event: 'verify', outcome: 'success', agent_uid: admin.uid }),
          expect.objectContaining({ event: 'admin_query', outcome: 'success', error_code: null, agent_uid: admin.uid, detail: expect.objectContaining({ query: expect.any(String) }) }),
        ]);
      }
    });
  });

  describe('/admin/agents', () => {
    type AgentView = { uid: string; status: string; created_at: string; disabled_at: string | null; active_keys: number };

    it('lists agents newest first with keyset pagination, no overlap and no gap', async () => {
      await register();
      await register();
      const expected: string[] = (await t.dataSource.query(`SELECT uid FROM agents ORDER BY created_at DESC, uid DESC`)).map((r: { uid: string }) => r.uid);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: Response = await adminGet('/admin/agents').query({ limit: 7, ...(cursor ? { cursor } : {}) }).expect(200);
        expect(Object.keys(res.body).sort()).toEqual(['agents', 'next_cursor']);
        seen.push(...res.body.agents.map((x: AgentView) => x.uid));
        cursor = res.body.next_cursor;
      } while (cursor !== null);
      expect(seen).toEqual(expected);
      const first = await adminGet('/admin/agents').query({ limit: 1 }).expect(200);
      expect(first.body.agents[0]).toEqual({
        uid: expected[0],
        status: 'active',
        created_at: expect.stringMatching(/Z$/),
        disabled_at: null,
        active_keys: 1,
      });
      for (const query of [{ limit: '501' }, { cursor: 'nope' }, { status: 'deleted' }]) {
        expect((await adminGet('/admin/agents').query(query).expect(400)).body.error.code).toBe('VALIDATION_FAILED');
      }
    });

    it('filters by status', async () => {
      const agent = await register();
      await adminPost(`/admin/agents/${agent.uid}/disable`).expect(200);
      const disabled = await adminGet('/admin/agents').query({ status: 'disabled', limit: 500 }).expect(200);
      expect(disabled.body.agents.every((x: AgentView) => x.status === 'disabled' && x.disabled_at !== null)).toBe(true);
      expect(disabled.body.agents[0]).toMatchObject({ uid: agent.uid, status: 'disabled', active_keys: 1 });
      const active = await adminGet('/admin/agents').query({ status: 'active', limit: 500 }).expect(200);
      expect(active.body.agents.every((x: AgentView) => x.status === 'active' && x.disabled_at === null)).toBe(true);
      expect(active.body.agents.map((x: AgentView) => x.uid)).not.toContain(agent.uid);
      const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM agents WHERE status = 'disabled'`);
      expect(disabled.body.agents).toHaveLength(Math.min(n, 500));
    });

    it('shows one agent: its keys with status and dates, and its last events', async () => {
      const agent = await register();
      await whoami(agent).expect(200);
      const next = agentKeyPair();
      await http().post('/rotate').set(agentHeaders(agent, authority)).send({ public_jwk: next.publicJwk }).expect(200);
      const res = await adminGet(`/admin/agents/${agent.uid}`).expect(200);
      expect(Object.keys(res.body).sort()).toEqual(['agent', 'events', 'keys']);
      expect(res.body.agent).toEqual({ uid: agent.uid, status: 'active', created_at: expect.stringMatching(/Z$/), disabled_at: null, active_keys: 1 });
      const byKid = Object.fromEntries(res.body.keys.map((k: { kid: string }) => [k.kid, k]));
      expect(byKid[agent.kid]).toEqual({
        kid: agent.kid,
        status: 'revoked',
        created_at: expect.stringMatching(/Z$/),
        revoked_at: expect.stringMatching(/Z$/),
        revoked_reason: 'rotated',
        public_jwk: agent.publicJwk,
      });
      expect(byKid[next.kid]).toEqual({ kid: next.kid, status: 'active', created_at: expect.stringMatching(/Z$/), revoked_at: null, revoked_reason: null, public_jwk: next.publicJwk });
      expect(res.body.keys).toHaveLength(2);
      expect(res.body.events.map((e: EventRow) => [e.event, e.outcome])).toEqual([
        ['rotate', 'success'],
        ['verify', 'success'],
        ['register', 'success'],
      ]);
      expect(Object.keys(res.body.events[0]).sort()).toEqual([...EVENT_FIELDS].sort());
    });

    it('unknown uid is 404 UNKNOWN_AGENT; a malformed uid is 400', async () => {
      const unknown = `agent-${'f'.repeat(24)}`;
      for (const path of [`/admin/agents/${unknown}`]) {
        expect((await adminGet(path).expect(404)).body.error).toMatchObject({ status: 404, code: 'UNKNOWN_AGENT' });
      }
      for (const path of [`/admin/agents/${unknown}/disable`, `/admin/agents/${unknown}/enable`]) {
        expect((await adminPost(path).expect(404)).body.error).toMatchObject({ status: 404, code: 'UNKNOWN_AGENT' });
      }
      for (const uid of ['bob', 'agent-XYZ', `agent-${'0'.repeat(25)}`]) {
        expect((await adminGet(`/admin/agents/${uid}`).expect(400)).body.error).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
        expect((await adminPost(`/admin/agents/${uid}/disable`).expect(400)).body.error.code).toBe('VALIDATION_FAILED');
      }
    });

    it('disable takes effect at once on /whoami and the directory, and is audited; enable restores', async () => {
      const agent = await register();
      await whoami(agent).expect(200);
      await directory(agent.uid).expect(200);
      const res = await adminPost(`/admin/agents/${agent.uid}/disable`).expect(200);
      expect(res.body).toEqual({ uid: agent.uid, status: 'disabled', created_at: expect.stringMatching(/Z$/), disabled_at: expect.stringMatching(/Z$/), active_keys: 1 });
      expect(await rowsOf(res)).toEqual([
        expect.objectContaining({ event: 'verify', outcome: 'success', agent_uid: admin.uid }),
        { event: 'disable', outcome: 'success', error_code: null, agent_uid: agent.uid, detail: { admin: admin.uid, changed: true } },
      ]);
      const refused = await whoami(agent).expect(403);
      expect(refused.body.error).toMatchObject({ status: 403, code: 'AGENT_DISABLED' });
      await directory(agent.uid).expect(404);
      // Idempotent, and still recorded.
      const again = await adminPost(`/admin/agents/${agent.uid}/disable`).expect(200);
      expect((await rowsOf(again))[1]).toMatchObject({ event: 'disable', detail: { changed: false } });

      const enabled = await adminPost(`/admin/agents/${agent.uid}/enable`).expect(200);
      expect(enabled.body).toMatchObject({ uid: agent.uid, status: 'active', disabled_at: null });
      expect((await rowsOf(enabled))[1]).toEqual({ event: 'enable', outcome: 'success', error_code: null, agent_uid: agent.uid, detail: { admin: admin.uid, changed: true } });
      await whoami(agent).expect(200);
      expect((await directory(agent.uid).expect(200)).body.keys.map((k: { kid: string }) => k.kid)).toEqual([agent.kid]);
    });

    it('revoking a key takes effect at once on /whoami and the directory, and is audited', async () => {
      const agent = await register();
      await whoami(agent).expect(200);
      const res = await adminPost(`/admin/agents/${agent.uid}/keys/${agent.kid}/revoke`).send({ reason: 'laptop stolen' }).expect(200);
      expect(res.body).toEqual({
        kid: agent.kid,
        status: 'revoked',
        created_at: expect.stringMatching(/Z$/),
        revoked_at: expect.stringMatching(/Z$/),
        revoked_reason: 'laptop stolen',
        public_jwk: agent.publicJwk,
      });
      expect((await rowsOf(res))[1]).toEqual({ event: 'revoke', outcome: 'success', error_code: null, agent_uid: agent.uid, detail: { admin: admin.uid, reason: 'laptop stolen', changed: true } });
      const refused = await whoami(agent).expect(401);
      expect(refused.body.error).toMatchObject({ status: 401, code: 'REVOKED_KEY' });
      const listed = await directory(agent.uid);
      expect({ status: listed.status, body: listed.body }).toEqual({ status: 200, body: { keys: [] } });
    });

    it('a key revoked or an agent disabled right after registration (cached then, never read) is refused at once', async () => {
      // Registration puts the new key in this instance's cache: the revocation must evict it like a read one.
      const revoked = await register();
      await adminPost(`/admin/agents/${revoked.uid}/keys/${revoked.kid}/revoke`).send({ reason: 'issued by mistake' }).expect(200);
      expect((await whoami(revoked).expect(401)).body.error.code).toBe('REVOKED_KEY');

      const disabled = await register();
      await adminPost(`/admin/agents/${disabled.uid}/disable`).expect(200);
      expect((await whoami(disabled).expect(403)).body.error.code).toBe('AGENT_DISABLED');
    });

    it('revoking another agent\'s key through this uid, or an unknown kid, is 404 and changes nothing', async () => {
      const agent = await register();
      const other = await register();
      const wrong = await adminPost(`/admin/agents/${agent.uid}/keys/${other.kid}/revoke`).send({ reason: 'mix-up' }).expect(404);
      expect(wrong.body.error).toMatchObject({ status: 404, code: 'NOT_FOUND' });
      const unknown = await adminPost(`/admin/agents/${agent.uid}/keys/${agentKeyPair().kid}/revoke`).send({ reason: 'x' }).expect(404);
      expect(unknown.body.error).toMatchObject({ status: 404, code: 'NOT_FOUND' });
      await whoami(other).expect(200);
      await whoami(agent).expect(200);
      expect((await directory(other.uid).expect(200)).body.keys.map((k: { kid: string }) => k.kid)).toEqual([other.kid]);
      const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM audit_events WHERE event = 'revoke' AND agent_uid IN ($1, $2)`, [agent.uid, other.uid]);
      expect(n).toBe(0);
    });

    it('revoke without a reason, or with a malformed kid, is 400', async () => {
      const agent = await register();
      for (const body of [{}, { reason: '' }, { reason: 5 }, { reason: 'x'.repeat(201) }]) {
        const res = await adminPost(`/admin/agents/${agent.uid}/keys/${agent.kid}/revoke`).send(body).expect(400);
        expect(res.body.error).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
      }
      await adminPost(`/admin/agents/${agent.uid}/keys/short/revoke`).send({ reason: 'x' }).expect(400);
      await whoami(agent).expect(200);
    });
  });

  describe('tamper evidence (restores every change)', () => {
    let target: { id: string; error_code: string | null };

    beforeAll(async () => {
      const agent = await register();
      await whoami(agent).expect(200);
      [target] = await t.dataSource.query(`SELECT id::text AS id, error_code FROM audit_events WHERE agent_uid = $1 AND event = 'verify'`, [agent.uid]);
      await seal();
    });

    it('verifies an intact chain: every sealed event checked, the rest counted', async () => {
      const report = await verifyChain();
      // The only unsealed event is this request's own verification.
      expect(report).toEqual({ ok: true, checked: await sealedCount(), unsealed: 1 });
      expect(report.checked).toBeGreaterThan(0);
      // Seal entries are in numeric id order (…, 99, 100, …), as the verifier walks them.
      const seals: Array<{ entries: Buffer }> = await t.dataSource.query(`SELECT entries FROM audit_seals ORDER BY id`);
      const sealedIds = seals.flatMap((s) => unpackEntries(Buffer.from(s.entries)).map((e) => BigInt(e.id)));
      expect(sealedIds.every((id, i) => i === 0 || id > sealedIds[i - 1])).toBe(true);
    });

    it('detects an altered event, says so in the log and the trail, and passes again once restored', async () => {
      await t.dataSource.query(`UPDATE audit_events SET error_code = 'TAMPERED' WHERE id = $1`, [target.id]);
      const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      try {
        const res = await adminGet('/admin/audit-events/verify').expect(200);
        expect(res.body).toEqual({ ok: false, checked: expect.any(Number), first_broken_id: target.id, reason: 'altered' });
        expect(logged.mock.calls.map(([message]) => message)).toEqual([
          expect.stringMatching(new RegExp(`^Audit chain check by ${admin.uid}: broken at event id ${target.id} \\(altered\\), after \\d+ event\\(s\\) checked; `)),
        ]);
        expect((await rowsOf(res)).filter((row) => row.event === 'admin_query').map((row) => row.detail)).toEqual([
          { query: 'audit-verify', ok: false, first_broken_id: target.id, reason: 'altered', admin: admin.uid },
        ]);
      } finally {
        logged.mockRestore();
        await t.dataSource.query(`UPDATE audit_events SET error_code = $2 WHERE id = $1`, [target.id, target.error_code]);
      }
      expect(await verifyChain()).toMatchObject({ ok: true });
    });

    it('detects an altered timestamp or detail', async () => {
      const [row] = await t.dataSource.query(`SELECT occurred_at::text AS occurred_at, detail::text AS detail FROM audit_events WHERE id = $1`, [target.id]);
      await t.dataSource.query(`UPDATE audit_events SET occurred_at = occurred_at - interval '1 microsecond' WHERE id = $1`, [target.id]);
      try {
        expect(await verifyChain()).toMatchObject({ ok: false, first_broken_id: target.id, reason: 'altered' });
      } finally {
        await t.dataSource.query(`UPDATE audit_events SET occurred_at = $2::timestamptz WHERE id = $1`, [target.id, row.occurred_at]);
      }
      await t.dataSource.query(`UPDATE audit_events SET detail = detail || '{"components":[]}' WHERE id = $1`, [target.id]);
      try {
        expect(await verifyChain()).toMatchObject({ ok: false, first_broken_id: target.id, reason: 'altered' });
      } finally {
        await t.dataSource.query(`UPDATE audit_events SET detail = $2::jsonb WHERE id = $1`, [target.id, row.detail]);
      }
      expect(await verifyChain()).toMatchObject({ ok: true });
    });

    it('detects a deleted event, and passes again once it is put back', async () => {
      const [{ row }] = await t.dataSource.query(`SELECT to_jsonb(e)::text AS row FROM audit_events e WHERE id = $1`, [target.id]);
      await t.dataSource.query(`DELETE FROM audit_events WHERE id = $1`, [target.id]);
      try {
        expect(await verifyChain()).toEqual({ ok: false, checked: expect.any(Number), first_broken_id: target.id, reason: 'deleted' });
      } finally {
        await t.dataSource.query(`INSERT INTO audit_events OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_record(NULL::audit_events, $1::jsonb)`, [row]);
      }
      expect(await verifyChain()).toMatchObject({ ok: true });
    });

    it('detects an event inserted inside a sealed range', async () => {
      // Take an id from the sequence without a row: a gap the next seal covers.
      const [{ gap }] = await t.dataSource.query(`SELECT nextval(pg_get_serial_sequence('audit_events', 'id'))::text AS gap`);
      await whoami(admin).expect(200);
      await seal();
      const [covering] = await t.dataSource.query(`SELECT id FROM audit_seals WHERE first_id <= $1 AND last_id >= $1`, [gap]);
      expect(covering).toBeDefined();
      expect(await verifyChain()).toMatchObject({ ok: true });
      await t.dataSource.query(
        `INSERT INTO audit_events (id, event, outcome, agent_uid) OVERRIDING SYSTEM VALUE VALUES ($1, 'verify', 'success', $2)`,
        [gap, admin.uid],
      );
      try {
        expect(await verifyChain()).toEqual({ ok: false, checked: expect.any(Number), first_broken_id: gap, reason: 'inserted' });
      } finally {
        await t.dataSource.query(`DELETE FROM audit_events WHERE id = $1`, [gap]);
      }
      expect(await verifyChain()).toMatchObject({ ok: true });
    });

    it('detects an altered seal', async () => {
      const [sealRow] = await t.dataSource.query(`SELECT id, first_id::text AS first_id, entries FROM audit_seals WHERE first_id <= $1 AND last_id >= $1`, [target.id]);
      const forged = Buffer.from(sealRow.entries);
      forged[forged.length - 1] ^= 0xff;
      await t.dataSource.query(`UPDATE audit_seals SET entries = $2 WHERE id = $1`, [sealRow.id, forged]);
      try {
        expect(await verifyChain()).toMatchObject({ ok: false, first_broken_id: sealRow.first_id, reason: 'seal altered' });
      } finally {
        await t.dataSource.query(`UPDATE audit_seals SET entries = $2 WHERE id = $1`, [sealRow.id, sealRow.entries]);
      }
      expect(await verifyChain()).toMatchObject({ ok: true });
    });

    it('detects the oldest events deleted together with their seal when no retention purge recorded it, even with a copied purge event', async () => {
      await whoami(admin).expect(200);
      await seal();
      const { head, next, restore } = await deleteHead();
      try {
        expect(await verifyChain()).toEqual({ ok: false, checked: 0, first_broken_id: next.first_id, reason: 'head deleted' });
        // A purge event that names the deleted range and the hash the next seal chains from, but whose MAC is not the service's.
        const [{ prev }] = await t.dataSource.query(`SELECT encode(prev_hash, 'hex') AS prev FROM audit_seals WHERE first_id = $1`, [next.first_id]);
        const [{ id: forged }] = await t.dataSource.query(`INSERT INTO audit_events (event, outcome, detail) VALUES ('purge', 'success', $1::jsonb) RETURNING id::text AS id`, [
          JSON.stringify({ deleted: 1, through_id: head.last_id, retention_days: 1, through_hash: prev, mac: 'ab'.repeat(32) }),
        ]);
        try {
          expect(await verifyChain()).toMatchObject({ ok: false, first_broken_id: next.first_id, reason: 'head deleted' });
        } finally {
          await t.dataSource.query(`DELETE FROM audit_events WHERE id = $1`, [forged]);
        }
      } finally {
        await restore();
      }
      expect(await verifyChain()).toMatchObject({ ok: true });
    });

    it('an instance refuses to seal again events whose seal it made was deleted and which were then edited, and reports it until restarted', async () => {
      // A second instance on the same database: the two seal in turn, each learning the other's seals.
      const r = await startTestApp({ ADMIN_AGENT_UIDS: admin.uid, AUDIT_SEAL_GRACE_SECONDS: '0', AUDIT_SEAL_INTERVAL_SECONDS: '3600' });
      const rAuthority = `localhost:${r.port}`;
      const rAdmin = { ...admin, agentUrl: `http://${admin.uid}.${rAuthority}` };
      const rVerify = async () => (await request(r.url).get('/admin/audit-events/verify').set(agentHeaders(rAdmin, rAuthority)).expect(200)).body;
      const rSeal = () => r.app.get(AuditIntegrityService).sealPending();
      const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      try {
        for (const sealer of [rSeal, seal, rSeal]) {
          await whoami(admin).expect(200);
          expect(await sealer()).toBeGreaterThan(0);
        }
        expect(await rVerify()).toMatchObject({ ok: true });
        expect(logged).not.toHaveBeenCalled();

        // The newest seal (r's) goes, and an event it covered is edited: r must not seal it again.
        const [newest] = await t.dataSource.query(`SELECT id::text AS id, first_id::text AS first_id, to_jsonb(s)::text AS row FROM audit_seals s ORDER BY s.id DESC LIMIT 1`);
        const [event] = await t.dataSource.query(`SELECT outcome, error_code FROM audit_events WHERE id = $1`, [newest.first_id]);
        await t.dataSource.query(`DELETE FROM audit_seals WHERE id = $1`, [newest.id]);
        await t.dataSource.query(`UPDATE audit_events SET outcome = 'failure', error_code = 'INVALID_SIGNATURE' WHERE id = $1`, [newest.first_id]);
        try {
          expect(await rSeal()).toBe(0);
          const [{ max }] = await t.dataSource.query(`SELECT max(id)::text AS max FROM audit_seals`);
          expect(BigInt(max)).toBeLessThan(BigInt(newest.id));
          expect(logged).toHaveBeenCalledWith(expect.stringMatching(new RegExp(`tail was truncated: the newest seal is seal ${max} .* seal ${newest.id} \\(events ${newest.first_id}\\.\\.`)));
          expect(await rVerify()).toEqual({ ok: false, checked: expect.any(Number), first_broken_id: newest.first_id, reason: 'tail truncated' });
        } finally {
          await t.dataSource.query(`UPDATE audit_events SET outcome = $2, error_code = $3 WHERE id = $1`, [newest.first_id, event.outcome, event.error_code]);
          await t.dataSource.query(`INSERT INTO audit_seals OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_record(NULL::audit_seals, $1::jsonb)`, [newest.row]);
        }
        // Put back, the chain verifies, but r keeps refusing until an operator restarts it.
        expect(await verifyChain()).toMatchObject({ ok: true });
        expect(await rSeal()).toBe(0);
        expect(await rVerify()).toMatchObject({ ok: false, reason: 'tail truncated' });
      } finally {
        logged.mockRestore();
        await r.close();
      }
      await whoami(admin).expect(200);
      expect(await seal()).toBeGreaterThan(0);
      expect(await verifyChain()).toMatchObject({ ok: true });
    });
  });

  // Last: a purge deletes the shared database's old audit rows (whole sealed batches).
  describe('retention', () => {
    it('keeps everything without AUDIT_RETENTION_DAYS', async () => {
      const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM audit_events`);
      expect(await t.app.get(AuditRetentionService).purgeExpired(new Date(Date.now() + 3650 * 86_400_000))).toEqual({ deleted: 0, throughId: null });
      const [{ after }] = await t.dataSource.query(`SELECT count(*)::int AS after FROM audit_events`);
      expect(after).toBe(n);
    });

    it('purges sealed batches older than the retention, records itself, and the chain still verifies', async () => {
      const r = await startTestApp({ AUDIT_RETENTION_DAYS: '1', AUDIT_SEAL_GRACE_SECONDS: '0', AUDIT_SEAL_INTERVAL_SECONDS: '3600' });
      try {
        const retention = r.app.get(AuditRetentionService);
        // Nothing is a day old yet.
        expect(await retention.purgeExpired(new Date())).toEqual({ deleted: 0, throughId: null });

        await r.app.get(AuditIntegrityService).sealPending();
        const [{ before }] = await t.dataSource.query(`SELECT count(*)::int AS before FROM audit_events`);
        const [last] = await t.dataSource.query(`SELECT first_id::text AS first_id FROM audit_seals ORDER BY id DESC LIMIT 1`);
        const [{ seals }] = await t.dataSource.query(`SELECT count(*)::int AS seals FROM audit_seals`);
        expect(seals).toBeGreaterThan(1);

        // Three days on, every batch but the last sealed one is past the retention.
        const result = await retention.purgeExpired(new Date(Date.now() + 3 * 86_400_000));
        expect(result).toEqual({ deleted: expect.any(Number), throughId: (BigInt(last.first_id) - 1n).toString() });
        expect(result.deleted).toBeGreaterThan(0);
        const [{ after, min_id }] = await t.dataSource.query(`SELECT count(*)::int AS after, min(id)::text AS min_id FROM audit_events`);
        expect(min_id).toBe(last.first_id);
        expect(after).toBe(before - result.deleted + 1);
        expect(await t.dataSource.query(`SELECT first_id::text AS first_id FROM audit_seals`)).toEqual([{ first_id: last.first_id }]);
        const [purge] = await t.dataSource.query(`SELECT outcome, detail FROM audit_events WHERE event = 'purge' ORDER BY id DESC LIMIT 1`);
        // What the first seal left chains from, under a MAC: a purge, not a deletion of the head.
        const [{ prev }] = await t.dataSource.query(`SELECT encode(prev_hash, 'hex') AS prev FROM audit_seals`);
        expect(prev).not.toBe('00'.repeat(32));
        expect(purge).toEqual({
          outcome: 'success',
          detail: { deleted: result.deleted, through_id: result.throughId, retention_days: 1, through_hash: prev, mac: expect.stringMatching(/^[0-9a-f]{64}$/) },
        });

        expect(await verifyChain()).toEqual({ ok: true, checked: await sealedCount(), unsealed: expect.any(Number) });
        // The purged range is gone for good: an event put back below the first seal is an insertion.
        const below = (BigInt(last.first_id) - 1n).toString();
        await t.dataSource.query(`INSERT INTO audit_events (id, event, outcome) OVERRIDING SYSTEM VALUE VALUES ($1, 'verify', 'success')`, [below]);
        try {
          expect(await verifyChain()).toMatchObject({ ok: false, first_broken_id: below, reason: 'inserted' });
        } finally {
          await t.dataSource.query(`DELETE FROM audit_events WHERE id = $1`, [below]);
        }
        await seal();
        expect(await verifyChain()).toMatchObject({ ok: true });

        // The head the purge left, deleted without one, is a deletion.
        const { next, restore } = await deleteHead();
        try {
          expect(await verifyChain()).toEqual({ ok: false, checked: 0, first_broken_id: next.first_id, reason: 'head deleted' });
        } finally {
          await restore();
        }
        expect(await verifyChain()).toMatchObject({ ok: true });
      } finally {
        await r.close();
      }
    });
  });
});
