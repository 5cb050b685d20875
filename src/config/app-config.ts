import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvironmentVariables, validateEnvironment } from './env.validation';

export interface DatabaseSettings {
  /** A server URL, or undefined for the embedded PGlite database. */
  url?: string;
  dataDir: string;
  poolSize: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  /** DATABASE_URL is a PGlite socket (one backend session): use a pool of one. */
  singleSession: boolean;
}

export interface VerificationSettings {
  clockSkewSeconds: number;
  maxLifetimeSeconds: number;
  requireNonce: boolean;
  tag: string;
  strictSignatureAgentCoverage: boolean;
  /** host[:port] values (lowercase, default port omitted) a signature may be made for. */
  acceptedAuthorities: readonly string[];
  /** Foreign authority host patterns (`*.example.com` or `example.com`) resolved remotely. */
  trustedAgentDomains: readonly string[];
  keyCacheTtlMs: number;
  keyCacheNotifiedTtlMs: number;
  keyCacheMaxEntries: number;
  keyCacheImportedKeys: number;
  remote: {
    allowInsecureLocalhost: boolean;
    allowPrivateNetworks: boolean;
    timeoutMs: number;
    maxBytes: number;
  };
  noncePurgeIntervalSeconds: number;
}

/**
 * The typed, validated configuration. Built once from the environment and
 * provided to every module; nothing else reads process.env.
 */
export class AppConfig {
  readonly env: EnvironmentVariables['NODE_ENV'];
  readonly version: string;
  readonly port: number;
  readonly publicUrl: URL;
  /** host[:port] of PUBLIC_URL, lowercase, default port omitted: agent hosts are `<uid>.<authority>`. */
  readonly authority: string;
  readonly bodyLimitBytes: number;
  readonly logLevel: EnvironmentVariables['LOG_LEVEL'];
  readonly trustProxy: boolean | number | string;
  readonly corsOrigins: readonly string[];
  readonly database: DatabaseSettings;
  readonly verification: VerificationSettings;
  readonly directoryMaxAgeSeconds: number;
  readonly adminAgentUids: ReadonlySet<string>;
  readonly rateLimit: { registerPerMinute: number; failedVerifyPerMinute: number };
  /** SIGTERM: serve this long while unready, then allow this long for the rest (SHUTDOWN_*_SECONDS). */
  readonly shutdown: { drainMs: number; timeoutMs: number };
  readonly audit: {
    retentionDays?: number;
    sealKey?: Buffer;
    sealIntervalSeconds: number;
    sealGraceSeconds: number;
    purgeIntervalSeconds: number;
  };

  constructor(env: EnvironmentVariables) {
    this.env = env.NODE_ENV;
    this.version = packageVersion();
    this.port = env.PORT;
    this.publicUrl = new URL(env.PUBLIC_URL ?? `http://localhost:${env.PORT}`);
    this.authority = this.publicUrl.host.toLowerCase();
    this.bodyLimitBytes = env.BODY_LIMIT_BYTES;
    this.shutdown = { drainMs: env.SHUTDOWN_DRAIN_SECONDS * 1000, timeoutMs: env.SHUTDOWN_TIMEOUT_SECONDS * 1000 };
    this.logLevel = env.LOG_LEVEL;
    this.trustProxy = parseTrustProxy(env.TRUST_PROXY);
    this.corsOrigins = list(env.CORS_ORIGINS);
    this.database = {
      url: env.DATABASE_URL,
      dataDir: env.DATA_DIR,
      poolSize: env.DB_POOL_SIZE,
      connectTimeoutMs: env.DB_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
      singleSession: env.DATABASE_SINGLE_SESSION,
    };
    this.verification = {
      clockSkewSeconds: env.CLOCK_SKEW_SECONDS,
      maxLifetimeSeconds: env.MAX_SIGNATURE_LIFETIME_SECONDS ?? 300 + env.CLOCK_SKEW_SECONDS,
      requireNonce: env.REQUIRE_NONCE,
      tag: env.SIGNATURE_TAG,
      strictSignatureAgentCoverage: env.STRICT_SIGNATURE_AGENT_COVERAGE,
      acceptedAuthorities: unique([this.authority, ...list(env.ACCEPTED_AUTHORITIES)]),
      trustedAgentDomains: list(env.TRUSTED_AGENT_DOMAINS),
      keyCacheTtlMs: env.KEY_CACHE_TTL_MS,
      keyCacheNotifiedTtlMs: env.KEY_CACHE_NOTIFIED_TTL_MS,
      keyCacheMaxEntries: env.KEY_CACHE_MAX_ENTRIES,
      keyCacheImportedKeys: env.KEY_CACHE_IMPORTED_KEYS,
      remote: {
        allowInsecureLocalhost: env.REMOTE_ALLOW_INSECURE_LOCALHOST,
        allowPrivateNetworks: env.REMOTE_ALLOW_PRIVATE_NETWORKS,
        timeoutMs: env.REMOTE_TIMEOUT_MS,
        maxBytes: env.REMOTE_MAX_BYTES,
      },
      noncePurgeIntervalSeconds: env.NONCE_PURGE_INTERVAL_SECONDS,
    };
    this.directoryMaxAgeSeconds = env.DIRECTORY_MAX_AGE_SECONDS;
    this.adminAgentUids = new Set(list(env.ADMIN_AGENT_UIDS));
    this.rateLimit = {
      registerPerMinute: env.RATE_LIMIT_REGISTER_PER_MINUTE,
      failedVerifyPerMinute: env.RATE_LIMIT_FAILED_VERIFY_PER_MINUTE,
    };
    this.audit = {
      retentionDays: env.AUDIT_RETENTION_DAYS,
      sealKey: env.AUDIT_SEAL_KEY ? Buffer.from(env.AUDIT_SEAL_KEY, 'utf8') : undefined,
      sealIntervalSeconds: env.AUDIT_SEAL_INTERVAL_SECONDS,
      sealGraceSeconds: env.AUDIT_SEAL_GRACE_SECONDS,
      purgeIntervalSeconds: env.AUDIT_PURGE_INTERVAL_SECONDS,
    };
  }

  get isProduction(): boolean {
    return this.env === 'production';
  }
}

/** Builds the configuration from an environment (process.env by default). */
export function loadAppConfig(raw: Record<string, string | undefined> = process.env): AppConfig {
  return new AppConfig(validateEnvironment(raw));
}

/** Loads `.env` from the working directory into process.env, without overriding what is set. */
export function loadDotEnv(path = '.env'): void {
  try {
    process.loadEnvFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .filter((item) => item.length > 0);
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function parseTrustProxy(value: string): boolean | number | string {
  const v = value.trim().toLowerCase();
  if (v === 'false') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) return Number(v);
  return v;
}

function packageVersion(): string {
  // dist/config or src/config: package.json is two levels up either way.
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}
