import type { LoadResult, Scenario } from './protocol';

export interface RunRow {
  result: LoadResult;
  /** Peak resident memory of the loaded server during its run. */
  peakRssMb?: number;
}

export interface ReportContext {
  date: Date;
  command: string;
  cores: number;
  cpuModel: string;
  nodeVersion: string;
  loadBefore: number[];
  loadAfter: number[];
  oursVersion: string;
  gitRevision: string;
  oursDatabase: string;
  referenceVersion: string;
  referenceDatabase: string;
  agents: number;
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  oursPeakRssMb?: number;
}

const SCENARIO_LABEL: Record<Scenario, string> = {
  whoami: 'GET /whoami (signed)',
  register: 'POST /register (new key)',
  directory: 'GET directory (agent host)',
};

export function renderReport(ctx: ReportContext, rows: RunRow[]): string {
  const lines: string[] = [];
  lines.push(`vestauth authority benchmark, ${ctx.date.toISOString()}`);
  lines.push(`command:   ${ctx.command}`);
  lines.push(`machine:   ${ctx.cores} cores (${ctx.cpuModel}), node ${ctx.nodeVersion}, ${process.platform} ${process.arch}`);
  lines.push(`load avg:  before ${fmtLoad(ctx.loadBefore)}; after ${fmtLoad(ctx.loadAfter)} (1, 5, 15 min)`);
  lines.push(`ours:      ${ctx.oursVersion} (${ctx.gitRevision}) on ${ctx.oursDatabase}`);
  lines.push(`reference: vestauth ${ctx.referenceVersion} server on ${ctx.referenceDatabase}`);
  lines.push(
    `load:      ${ctx.agents} agents registered in each; ${ctx.connections} keep-alive connections; ` +
      `${ctx.durationSeconds} s timed after ${ctx.warmupSeconds} s warm-up per run; one server loaded at a time; ` +
      `fresh signature and 64-byte nonce on every signed request`,
  );
  lines.push('');
  lines.push('| scenario | server | req/s | p50 ms | p99 ms | errors | ours / reference | peak RSS MB |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    const r = row.result;
    const reference = rows.find((o) => o.result.scenario === r.scenario && o.result.server === 'reference');
    const ratio = r.server === 'ours' && reference ? `${(r.requestsPerSecond / reference.result.requestsPerSecond).toFixed(2)}x` : '';
    lines.push(
      `| ${SCENARIO_LABEL[r.scenario]} | ${r.server} | ${fmt(r.requestsPerSecond, 0)} | ${fmt(r.p50Ms, 1)} | ${fmt(r.p99Ms, 1)} | ` +
        `${r.non2xx + r.socketErrors} | ${ratio} | ${row.peakRssMb === undefined ? 'n/a' : fmt(row.peakRssMb, 0)} |`,
    );
  }
  lines.push('');
  lines.push(`Peak RSS of our service over the whole run (seeding included): ${ctx.oursPeakRssMb === undefined ? 'n/a' : `${fmt(ctx.oursPeakRssMb, 0)} MB`}`);
  lines.push('Load generator cost per request, measured in its process before each run (its single-core ceiling):');
  for (const { result: r } of rows) {
    const pool = r.pooledKeys ? `; keys in the timed window: ${r.pooledKeys.used} pre-generated, ${r.pooledKeys.generatedLive} generated live` : '';
    lines.push(`  ${r.scenario} / ${r.server}: ${fmt(r.buildMicros, 1)} µs (~${fmt(1e6 / r.buildMicros, 0)} req/s)${pool}`);
  }
  const failing = rows.filter((row) => Object.keys(row.result.errorKinds).length > 0);
  lines.push(failing.length === 0 ? 'Errors: none (every response was 2xx, no socket errors).' : 'Errors seen (status and error code, or socket error):');
  for (const { result: r } of failing) {
    const kinds = Object.entries(r.errorKinds)
      .sort((a, b) => b[1] - a[1])
      .map(([kind, n]) => `${kind} x${n}`)
      .join(', ');
    lines.push(`  ${r.scenario} / ${r.server}: ${kinds}`);
  }
  return lines.join('\n');
}

function fmt(n: number, digits: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function fmtLoad(load: number[]): string {
  return load.map((n) => n.toFixed(2)).join(' ');
}
