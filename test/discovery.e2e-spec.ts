import request from 'supertest';
import { QueryRunner, Repository } from 'typeorm';
import { PublicKey } from '../src/agents/entities/public-key.entity';
import { PublicKeyRepository } from '../src/agents/public-key.repository';
import { registerAgent } from './factories/agent.factory';
import { startTestApp, TestApp } from './support/test-app';

const DIRECTORY = '/.well-known/http-message-signatures-directory';

describe('Discovery (e2e)', () => {
  let t: TestApp;
  let authority: string;
  const http = () => request(t.url);

  beforeAll(async () => {
    t = await startTestApp({ DIRECTORY_MAX_AGE_SECONDS: '45' });
    authority = `localhost:${t.port}`;
  });

  afterAll(async () => {
    await t?.close();
  });

  it("serves an agent's active keys on its agent host", async () => {
    const agent = await registerAgent(t.url, authority);
    const res = await http().get(DIRECTORY).set('Host', `${agent.uid}.${authority}`).expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/http-message-signatures-directory\+json/);
    expect(res.headers['cache-control']).toBe('max-age=45');
    expect(res.body).toEqual({ keys: [agent.publicJwk] });
  });

  it('matches the agent host case-insensitively', async () => {
    const agent = await registerAgent(t.url, authority);
    const res = await http().get(DIRECTORY).set('Host', `${agent.uid.toUpperCase()}.LOCALHOST:${t.port}`).expect(200);
    expect(res.body.keys[0].kid).toBe(agent.kid);
  });

  it.each([
    ['the bare authority host', (_uid: string, a: string) => a, 'NOT_FOUND'],
    ['nested labels', (uid: string, a: string) => `x.${uid}.${a}`, 'NOT_FOUND'],
    ['a label without agent-', (uid: string, a: string) => `${uid.slice(6)}.${a}`, 'NOT_FOUND'],
    ['another port', (uid: string) => `${uid}.localhost:1`, 'NOT_FOUND'],
    ['an unknown agent', (_uid: string, a: string) => `agent-${'0'.repeat(24)}.${a}`, 'UNKNOWN_AGENT'],
  ])('answers 404 on %s, never some agent’s keys', async (_name, host, code) => {
    const agent = await registerAgent(t.url, authority);
    const res = await http().get(DIRECTORY).set('Host', host(agent.uid, authority)).expect(404);
    expect(res.body.error).toMatchObject({ status: 404, code });
    expect(res.body.keys).toBeUndefined();
  });

  it('answers 404 for a disabled agent', async () => {
    const agent = await registerAgent(t.url, authority);
    await t.dataSource.query(`UPDATE agents SET status = 'disabled', disabled_at = now() WHERE uid = $1`, [agent.uid]);
    const res = await http().get(DIRECTORY).set('Host', `${agent.uid}.${authority}`).expect(404);
    expect(res.body.error.code).toBe('UNKNOWN_AGENT');
  });

  it('answers only discovery on agent hosts', async () => {
    const agent = await registerAgent(t.url, authority);
    await http().get('/').set('Host', `${agent.uid}.${authority}`).expect(404);
    const res = await http().get('/whoami').set('Host', `${agent.uid}.${authority}`).expect(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });

  describe('the directory query plan', () => {
    // Plans are taken on scratch copies of agents and public_keys (temporary
    // tables of the same names, with the same indexes under the same names,
    // which shadow them in the runner's session) filled with enough rows that
    // a scan of either table is clearly the worse plan, as in
    // test/audit-plan.e2e-spec.ts. No planner setting is changed.
    const AGENTS = 20_000;
    let runner: QueryRunner;

    beforeAll(async () => {
      runner = t.dataSource.createQueryRunner();
      await runner.connect();
      await runner.startTransaction();
      for (const table of ['agents', 'public_keys']) {
        const indexes: Array<{ indexdef: string }> = await runner.query(
          `SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = $1`,
          [table],
        );
        await runner.query(`CREATE TEMP TABLE ${table} (LIKE public.${table} INCLUDING DEFAULTS) ON COMMIT DROP`);
        for (const { indexdef } of indexes) await runner.query(indexdef.replace(` ON public.${table} `, ` ON pg_temp.${table} `));
      }
      // One agent in 20 disabled; every agent has its active key and two revoked ones.
      await runner.query(
        `INSERT INTO pg_temp.agents (uid, status, disabled_at)
          SELECT 'agent-' || lpad(to_hex(i), 24, '0'), CASE WHEN i % 20 = 0 THEN 'disabled' ELSE 'active' END,
                 CASE WHEN i % 20 = 0 THEN now() END
            FROM generate_series(1, $1) AS i`,
        [AGENTS],
      );
      await runner.query(
        `INSERT INTO pg_temp.public_keys (kid, agent_uid, jwk, status, revoked_at, revoked_reason)
          SELECT 'kid-' || i || '-' || v, 'agent-' || lpad(to_hex(i), 24, '0'),
                 jsonb_build_object('kty', 'OKP', 'crv', 'Ed25519', 'x', md5(i || '-' || v), 'kid', 'kid-' || i || '-' || v),
                 CASE WHEN v = 0 THEN 'active' ELSE 'revoked' END, CASE WHEN v > 0 THEN now() END, CASE WHEN v > 0 THEN 'rotated' END
            FROM generate_series(1, $1) AS i, generate_series(0, 2) AS v`,
        [AGENTS],
      );
      await runner.query('ANALYZE pg_temp.agents');
      await runner.query('ANALYZE pg_temp.public_keys');
    });

    afterAll(async () => {
      await runner?.rollbackTransaction().catch(() => undefined);
      await runner?.release();
    });

    /** The statements PublicKeyRepository.findManyPublishedKeys itself sends, EXPLAINed on the runner's session. */
    async function plansOf(uids: string[]): Promise<PlanNode[]> {
      const plans: PlanNode[] = [];
      const explaining = {
        query: async (sql: string, parameters?: unknown[]) => {
          const [row]: Array<{ 'QUERY PLAN': unknown }> = await runner.query(`EXPLAIN (FORMAT JSON) ${sql}`, parameters);
          const json = row['QUERY PLAN'];
          plans.push((typeof json === 'string' ? JSON.parse(json) : json)[0].Plan);
          return [];
        },
      } as unknown as Repository<PublicKey>;
      await new PublicKeyRepository(explaining).findManyPublishedKeys(uids);
      return plans;
    }

    const uid = (i: number) => `agent-${i.toString(16).padStart(24, '0')}`;

    it.each<[string, () => string[]]>([
      ['one agent', () => [uid(4321)]],
      ['a batch of concurrent misses', () => [uid(17), uid(40), uid(999), uid(12_345), `agent-${'f'.repeat(24)}`]],
    ])('%s: the agents primary key and the active-key index, no scan of either table', async (_name, uids) => {
      const [agentsPk] = await runner.query(
        `SELECT conname FROM pg_constraint WHERE conrelid = 'public.agents'::regclass AND contype = 'p'`,
      );
      const plans = await plansOf(uids());
      expect(plans).toHaveLength(1);
      const scans = scansOf(plans[0]).map((s) => `${s.type} ${s.index ?? '-'} on ${s.relation}`);
      expect(scans).not.toContainEqual(expect.stringMatching(/^Seq Scan/));
      // Each table read once, through its index: a primary-key lookup per uid, the active key per agent.
      expect(scans.filter((s) => s.endsWith(' on agents'))).toEqual([
        expect.stringMatching(new RegExp(`^(Index Scan|Index Only Scan|Bitmap Index Scan) ${agentsPk.conname} on agents$`)),
      ]);
      expect(scans.filter((s) => s.endsWith(' on public_keys'))).toEqual([
        expect.stringMatching(/^(Index Scan|Bitmap Index Scan) public_keys_one_active_per_agent on public_keys$/),
      ]);
    });
  });
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** Every node of the plan that reads a table or an index; a bitmap index scan is reported on its heap scan's table (which is left out). */
function scansOf(node: PlanNode, parentRelation?: string): Array<{ type: string; index?: string; relation?: string }> {
  const relation = node['Relation Name'] ?? parentRelation;
  const own = node['Node Type'] === 'Bitmap Heap Scan' || !(node['Relation Name'] || node['Index Name'])
    ? []
    : [{ type: node['Node Type'], index: node['Index Name'], relation }];
  const children = (node.Plans ?? []).flatMap((child) => scansOf(child, node['Node Type'].startsWith('Bitmap') ? relation : undefined));
  return [...own, ...children];
}
