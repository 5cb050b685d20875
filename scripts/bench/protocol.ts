/** What run.ts and the forked load generator (load.ts) exchange. */

export const SCENARIOS = ['whoami', 'register', 'directory'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export type ServerName = 'ours' | 'reference';

/** A registered agent, as handed to the load generator (private key as the JWK `d`). */
export interface StoredAgent {
  uid: string;
  kid: string;
  x: string;
  d: string;
}

export interface LoadJob {
  scenario: Scenario;
  server: ServerName;
  port: number;
  /** host:port the requests address and are signed for. */
  authority: string;
  /** JSON file of StoredAgent[] registered on this server. */
  agentsFile: string;
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** Keys generated before the timed window for the register scenario. */
  keyPool: number;
}

export interface LoadResult {
  scenario: Scenario;
  server: ServerName;
  /** Responses received in the timed window, whatever their status. */
  responses: number;
  durationSeconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  socketErrors: number;
  /** `<status> <error code or message>` for non-2xx, `socket <code>` for socket errors. */
  errorKinds: Record<string, number>;
  /** Generator cost of building and signing one request, measured before the run. */
  buildMicros: number;
  /** Register keys in the timed window: from the pre-generated pool, or generated live. */
  pooledKeys?: { used: number; generatedLive: number };
}

export type LoadMessage =
  | { type: 'result'; result: LoadResult }
  | { type: 'failed'; message: string }
  | { type: 'phase'; phase: 'warmup' | 'timed' };
