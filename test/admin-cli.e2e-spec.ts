import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { agentHeaders, registerAgent, RegisteredAgent } from './factories/agent.factory';
import { freePort, startTestApp, TestApp } from './support/test-app';
import { makeAgentDir, removeAgentDir, runVestauth } from './support/vestauth-cli';

const CLI = join(__dirname, '..', 'dist', 'cli', 'admin-cli.js');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The operator CLI runs in its own process on the test database. On the
 * embedded database (one session) no app may be connected meanwhile, so
 * each step closes the app before the CLI runs.
 */
describe('Operator CLI (e2e)', () => {
  let port: number;
  let dir: string;
  let env: Record<string, string>;

  const cli = (...args: string[]): Promise<CliResult> =>
    new Promise((resolve) => {
      execFile(process.execPath, [CLI, ...args], { cwd: dir, env, timeout: 60_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });

  const withApp = async <T>(extra: Record<string, string>, body: (t: TestApp) => Promise<T>): Promise<T> => {
    const t = await startTestApp({ PUBLIC_URL: `http://localhost:${port}`, ...extra }, port);
    try {
      return await body(t);
    } finally {
      await t.close();
    }
  };

  beforeAll(async () => {
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'vestauth-admin-cli-'));
    env = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'error',
      DATABASE_URL: process.env.DATABASE_URL ?? '',
      DATABASE_SINGLE_SESSION: process.env.TEST_DATABASE_KIND === 'pglite' ? 'true' : 'false',
      PORT: String(port),
      PUBLIC_URL: `http://localhost:${port}`,
    };
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the first admin, which then administers over HTTP with the real vestauth CLI', async () => {
    const created = await cli('create-admin', '--out', 'admin.env');
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const uid = /Created (agent-[0-9a-f]{24})/.exec(created.stdout)![1];
    expect(created.stdout).toContain(`ADMIN_AGENT_UIDS=${uid}`);
    const file = join(dir, 'admin.env');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const dotenv = readFileSync(file, 'utf8');
    expect(dotenv).toContain(`AGENT_UID="${uid}"`);
    expect(dotenv).toContain(`AGENT_HOSTNAME="http://localhost:${port}"`);

    const agentDir = makeAgentDir();
    try {
      await withApp({ ADMIN_AGENT_UIDS: uid }, async (t) => {
        // Only the public key reached the database, with an audit row saying how.
        const [key] = await t.dataSource.query(`SELECT jwk FROM public_keys WHERE agent_uid = $1`, [uid]);
        expect(Object.keys(key.jwk).sort()).toEqual(['crv', 'kid', 'kty', 'x']);
        const [row] = await t.dataSource.query(`SELECT detail FROM audit_events WHERE event = 'register' AND agent_uid = $1`, [uid]);
        expect(row.detail).toMatchObject({ is_new: true, via: 'operator-cli' });

        require('node:fs').copyFileSync(file, join(agentDir, '.env'));
        const res = await runVestauth(agentDir, ['agent', 'curl', `http://localhost:${port}/admin/agents/${uid}`]);
        expect(res.code).toBe(0);
        expect(JSON.parse(res.stdout).agent).toMatchObject({ uid, status: 'active', active_keys: 1 });
      });
    } finally {
      removeAgentDir(agentDir);
    }
  });

  it('lists agents, revokes a key, shows the audit and verifies the chain, through the same services', async () => {
    const agent: RegisteredAgent = await withApp({}, (t) => registerAgent(t.url, `localhost:${port}`));

    const agents = await cli('agents', '--limit', '500');
    expect(agents.code).toBe(0);
    expect(agents.stdout.split('\n')[0]).toMatch(/^uid\s+status\s+active_keys\s+created_at/);
    expect(agents.stdout).toContain(agent.uid);

    const revoked = await cli('revoke', agent.uid, agent.kid, '--reason', 'key leaked');
    expect({ code: revoked.code, stderr: revoked.stderr }).toEqual({ code: 0, stderr: '' });
    expect(revoked.stdout).toMatch(new RegExp(`${agent.kid}\\s+revoked`));

    const audit = await cli('audit', '--agent', agent.uid);
    expect(audit.code).toBe(0);
    expect(audit.stdout).toMatch(/\brevoke\s+success\b/);
    expect(audit.stdout).toMatch(/\bregister\s+success\b/);

    const bad = await cli('audit', '--limit', '501');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^\[VALIDATION_FAILED\] limit/);

    const verified = await cli('verify-audit');
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true });

    await withApp({}, async (t) => {
      const res = await request(t.url).get('/whoami').set(agentHeaders(agent, `localhost:${port}`)).expect(401);
      expect(res.body.error.code).toBe('REVOKED_KEY');
      const [row] = await t.dataSource.query(`SELECT detail FROM audit_events WHERE event = 'revoke' AND kid = $1`, [agent.kid]);
      expect(row.detail).toMatchObject({ reason: 'key leaked', admin: expect.stringMatching(/^cli:/) });
    });
  });

  it('refuses input the HTTP API would refuse, with the same messages, and changes nothing', async () => {
    const agent: RegisteredAgent = await withApp({}, (t) => registerAgent(t.url, `localhost:${port}`));
    const refusals: Array<[args: string[], message: string]> = [
      [['revoke', agent.uid, agent.kid, '--reason', 'ok\u001b[2J\u001b[31mFAKE\u0007'], 'reason: reason must be plain text without control characters'],
      [['revoke', agent.uid, agent.kid, '--reason', 'x'.repeat(201)], 'reason: reason must be shorter than or equal to 200 characters'],
      [['revoke', agent.uid, agent.kid], '--reason is required'],
      [['revoke', 'bob', agent.kid, '--reason', 'leaked'], 'uid: uid must be agent-<24 hex>'],
      [['revoke', agent.uid, 'not-a-kid', '--reason', 'leaked'], 'kid: kid must be an RFC 7638 thumbprint'],
      [['disable', `${agent.uid}x`], 'uid: uid must be agent-<24 hex>'],
      [['agent', 'bob'], 'uid: uid must be agent-<24 hex>'],
      [['agents', '--status', 'gone'], 'status: status must be one of the following values: active, disabled'],
      [['audit', '--from', '9999-12-31T23:00:00-01:00'], 'from: from must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z'],
      [['audit', '--to', '9999-12-31T23:59:59-00:01'], 'to: to must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z'],
    ];
    for (const [args, message] of refusals) {
      const res = await cli(...args);
      expect({ args, code: res.code, stdout: res.stdout, stderr: res.stderr }).toEqual({ args, code: 1, stdout: '', stderr: `[VALIDATION_FAILED] ${message}\n` });
    }
    await withApp({}, async (t) => {
      const [key] = await t.dataSource.query(`SELECT status, revoked_reason FROM public_keys WHERE kid = $1`, [agent.kid]);
      expect(key).toEqual({ status: 'active', revoked_reason: null });
      const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM audit_events WHERE agent_uid = $1 AND event IN ('revoke', 'disable')`, [agent.uid]);
      expect(n).toBe(0);
    });
    // A reason of exactly 200 plain characters is taken, as over HTTP.
    const revoked = await cli('revoke', agent.uid, agent.kid, '--reason', 'r'.repeat(200));
    expect({ code: revoked.code, stderr: revoked.stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('create-admin registers no agent when it cannot write the key file, and resolves a relative --out where npm was run', async () => {
    const countAgents = () => withApp({}, async (t) => Number((await t.dataSource.query(`SELECT count(*)::int AS n FROM agents`))[0].n));
    const before = await countAgents();

    const missingDir = await cli('create-admin', '--out', join(dir, 'no-such-dir', '.env'));
    expect(missingDir.code).toBe(1);
    expect(missingDir.stderr).toContain('ENOENT');
    const existing = await cli('create-admin', '--out', 'admin.env'); // written by the first test
    expect(existing.code).toBe(1);
    expect(existing.stderr).toContain('EEXIST');
    expect(await countAgents()).toBe(before);

    // `npm run admin` runs in the package root and says where the operator was in INIT_CWD.
    const operatorDir = mkdtempSync(join(tmpdir(), 'vestauth-admin-operator-'));
    try {
      const created = await new Promise<CliResult>((resolve) => {
        execFile(process.execPath, [CLI, 'create-admin', '--out', 'ops.env'], { cwd: dir, env: { ...env, INIT_CWD: operatorDir }, timeout: 60_000 }, (error, stdout, stderr) => {
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
        });
      });
      expect(created.code).toBe(0);
      expect(statSync(join(operatorDir, 'ops.env')).mode & 0o777).toBe(0o600);
      expect(created.stdout).toContain(join(operatorDir, 'ops.env'));
      expect(await countAgents()).toBe(before + 1);
    } finally {
      rmSync(operatorDir, { recursive: true, force: true });
    }
  });

  it('pages through agents and audit events with --cursor', async () => {
    await withApp({}, async (t) => {
      for (let i = 0; i < 3; i++) await registerAgent(t.url, `localhost:${port}`);
    });
    const total = await withApp({}, async (t) => Number((await t.dataSource.query(`SELECT count(*)::int AS n FROM agents`))[0].n));
    // About three pages, however many agents the suite made before.
    const limit = String(Math.min(500, Math.max(1, Math.ceil(total / 3))));
    const seen: string[] = [];
    let args = ['agents', '--limit', limit];
    for (let page = 0; page < 5; page++) {
      const res = await cli(...args);
      expect(res.code).toBe(0);
      seen.push(...[...res.stdout.matchAll(/^(agent-[0-9a-f]{24})\s/gm)].map((m) => m[1]));
      const next = /More: repeat with --cursor (\S+)/.exec(res.stdout);
      if (!next) break;
      args = ['agents', '--limit', limit, '--cursor', next[1]];
    }
    const all = await withApp({}, async (t) => (await t.dataSource.query(`SELECT uid FROM agents`)).map((r: { uid: string }) => r.uid));
    expect(new Set(seen)).toEqual(new Set(all));
    expect(seen).toHaveLength(all.length);

    const first = await cli('audit', '--limit', '1');
    const cursor = /More: repeat with --cursor (\S+)/.exec(first.stdout)![1];
    const second = await cli('audit', '--limit', '1', '--cursor', cursor);
    expect(second.code).toBe(0);
    const firstRow = (out: string) => out.split('\n')[2].split(/\s+/)[0];
    expect(Number(firstRow(second.stdout))).toBeLessThan(Number(firstRow(first.stdout)));
  });

  it('explains itself and refuses unknown commands', async () => {
    const help = await cli('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('create-admin');
    const unknown = await cli('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown command: frobnicate');
  });
});
