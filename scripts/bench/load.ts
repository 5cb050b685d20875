/**
 * The load generator, forked by run.ts so that it never shares an event
 * loop with a server or the orchestrator. It receives one LoadJob, runs an
 * unmeasured warm-up and then the timed window with autocannon, and sends
 * back one LoadResult. Every request is built just before it is written, so
 * each carries a fresh `created` and a fresh 64-byte nonce.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { AgentKeyPair, signatureHeaders } from '../../test/factories/agent.factory';
import { benchKeyPair, keyPairOf, registerRequest } from './agents';
import type { LoadJob, LoadMessage, LoadResult, StoredAgent } from './protocol';

interface BuiltRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

interface Builder {
  build(): BuiltRequest;
  /** Pre-generates register keys up to n. */
  fillPool?: (n: number) => void;
  pooledKeys?: () => { used: number; generatedLive: number };
}

const DIRECTORY_PATH = '/.well-known/http-message-signatures-directory';
const CEILING_SAMPLES = 2000;

function builderFor(job: LoadJob, agents: StoredAgent[]): Builder {
  const pick = (): number => Math.floor(Math.random() * agents.length);
  switch (job.scenario) {
    case 'whoami': {
      // Imported before the timed window (~30 µs each), so 100,000 agents cost the generator no more than 1,000.
      const keys = agents.map(keyPairOf);
      return {
        build: () => {
          const i = pick();
          const agent = agents[i];
          const headers = {
            host: job.authority,
            ...signatureHeaders(keys[i], { authority: job.authority, agentUrl: `http://${agent.uid}.${job.authority}` }),
          };
          return { method: 'GET', path: '/whoami', headers };
        },
      };
    }
    case 'directory':
      return { build: () => ({ method: 'GET', path: DIRECTORY_PATH, headers: { host: `${agents[pick()].uid}.${job.authority}` } }) };
    case 'register': {
      // Keys come from a pool generated outside the timed window (~90 µs each); live when it runs out.
      const pool: AgentKeyPair[] = [];
      let used = 0;
      let generatedLive = 0;
      return {
        build: () => {
          let key = pool.pop();
          if (key) used++;
          else {
            key = benchKeyPair();
            generatedLive++;
          }
          return { method: 'POST', path: '/register', ...registerRequest(key, job.authority) };
        },
        fillPool: (n) => {
          while (pool.length < n) pool.push(benchKeyPair());
        },
        pooledKeys: () => ({ used, generatedLive }),
      };
    }
  }
}

/** Microseconds to build one request: the generator's own cost, i.e. its single-core ceiling. */
function measureBuildMicros(builder: Builder): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < CEILING_SAMPLES; i++) builder.build();
  return Number(process.hrtime.bigint() - start) / 1000 / CEILING_SAMPLES;
}

interface Window {
  latencies: number[];
  non2xx: number;
  socketErrors: number;
  errorKinds: Record<string, number>;
  durationSeconds: number;
}

async function runWindow(job: LoadJob, builder: Builder, seconds: number): Promise<Window> {
  const window: Window = { latencies: [], non2xx: 0, socketErrors: 0, errorKinds: {}, durationSeconds: 0 };
  const count = (kind: string): void => {
    window.errorKinds[kind] = (window.errorKinds[kind] ?? 0) + 1;
  };
  const instance = autocannon({
    url: `http://127.0.0.1:${job.port}`,
    connections: job.connections,
    duration: seconds,
    timeout: 10,
    requests: [
      {
        setupRequest: (request) => Object.assign(request, builder.build()),
        onResponse: (status, body) => {
          if (status < 200 || status >= 300) count(`${status} ${errorCodeOf(body)}`);
        },
      },
    ],
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    window.latencies.push(responseTime);
    if (statusCode < 200 || statusCode >= 300) window.non2xx++;
  });
  instance.on('reqError', (error) => {
    window.socketErrors++;
    count(`socket ${error.code ?? error.message}`);
  });
  const result = await instance;
  window.durationSeconds = result.duration;
  return window;
}

/** Our error body names a code; the reference's has `code: 401` and the reason in `message`. */
function errorCodeOf(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
      const error = parsed.error;
      if (typeof error === 'object' && error !== null) {
        const code = 'code' in error ? error.code : undefined;
        const message = 'message' in error ? error.message : undefined;
        if (typeof code === 'string') return code;
        if (typeof message === 'string') return message.slice(0, 80);
      }
    }
  } catch {
    // not JSON: fall through to the raw prefix
  }
  return JSON.stringify(body.slice(0, 80));
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

async function run(job: LoadJob): Promise<LoadResult> {
  const agents = JSON.parse(readFileSync(job.agentsFile, 'utf8')) as StoredAgent[];
  if (agents.length === 0 && job.scenario !== 'register') throw new Error('no registered agents to load with');
  const builder = builderFor(job, agents);
  builder.fillPool?.(CEILING_SAMPLES);
  const buildMicros = measureBuildMicros(builder);
  const send = (message: LoadMessage): void => void process.send?.(message);
  let poolSize = job.keyPool;
  if (job.warmupSeconds > 0) {
    send({ type: 'phase', phase: 'warmup' });
    const warmup = await runWindow(job, builder, job.warmupSeconds);
    // Three times what the warm-up's rate needs (the server speeds up after it); a fixed pool would cost seconds on a slow server.
    const expected = (warmup.latencies.length / warmup.durationSeconds) * job.durationSeconds * 3 + job.connections;
    poolSize = Math.min(job.keyPool, Math.ceil(expected));
  }
  builder.fillPool?.(poolSize);
  const keysBefore = builder.pooledKeys?.();
  send({ type: 'phase', phase: 'timed' });
  const timed = await runWindow(job, builder, job.durationSeconds);
  const keysAfter = builder.pooledKeys?.();
  const sorted = Float64Array.from(timed.latencies).sort();
  return {
    scenario: job.scenario,
    server: job.server,
    responses: timed.latencies.length,
    durationSeconds: timed.durationSeconds,
    requestsPerSecond: timed.latencies.length / timed.durationSeconds,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    non2xx: timed.non2xx,
    socketErrors: timed.socketErrors,
    errorKinds: timed.errorKinds,
    buildMicros,
    pooledKeys:
      keysBefore && keysAfter
        ? { used: keysAfter.used - keysBefore.used, generatedLive: keysAfter.generatedLive - keysBefore.generatedLive }
        : undefined,
  };
}

process.once('message', (job: LoadJob) => {
  run(job)
    .then((result) => ({ type: 'result', result }) satisfies LoadMessage)
    .catch((error: unknown) => ({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }) satisfies LoadMessage)
    .then((message) => process.send?.(message, () => process.exit(0)));
});
