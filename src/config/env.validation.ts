import { isIP, isIPv4 } from 'node:net';
import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  validateSync,
  ValidationError,
} from 'class-validator';

const toBoolean = ({ value }: { value: unknown }): unknown => {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off', ''].includes(v)) return false;
  return value;
};

const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;

const UID_LIST = /^\s*(agent-[0-9a-f]{24}\s*(,\s*agent-[0-9a-f]{24}\s*)*)?$/;
const DOMAIN_LIST = /^\s*((\*\.)?[a-z0-9.-]+(:\d+)?\s*(,\s*(\*\.)?[a-z0-9.-]+(:\d+)?\s*)*)?$/i;
const AUTHORITY_LIST = /^\s*([a-z0-9.-]+(:\d+)?\s*(,\s*[a-z0-9.-]+(:\d+)?\s*)*)?$/i;

/**
 * Every environment variable the service reads. Only this folder reads
 * process.env. Defaults are the safe value: nothing trusted, nobody admin.
 */
export class EnvironmentVariables {
  @IsOptional()
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @Transform(toInt)
  @IsInt({ message: 'PORT must be a whole number from 0 to 65535' })
  @Min(0)
  @Max(65535)
  PORT = 3000;

  /** The authority's public origin; agent hosts are `<uid>.<its host>`. */
  @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false, allow_fragments: false, allow_query_components: false })
  PUBLIC_URL?: string;

  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/\S+$/, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL?: string;

  /** Set when DATABASE_URL points at a PGlite socket server: it has one backend session. */
  @Transform(toBoolean)
  @IsBoolean()
  DATABASE_SINGLE_SESSION = false;

  @IsString()
  DATA_DIR = './data';

  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(10 * 1024 * 1024)
  BODY_LIMIT_BYTES = 64 * 1024;

  @IsIn(['fatal', 'error', 'warn', 'log', 'debug', 'verbose'])
  LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'log' | 'debug' | 'verbose' = 'log';

  /** Express `trust proxy`: false, true, a hop count, or a list of addresses, subnets and loopback/linklocal/uniquelocal. */
  @Matches(/^\s*(false|true|\d{1,2})\s*$|^[0-9a-z.:/,\s]+$/i, {
    message: 'TRUST_PROXY must be false, true, a hop count or a list of proxy addresses',
  })
  TRUST_PROXY = 'false';

  /** Browser origins allowed by CORS (comma-separated); none by default. */
  @Matches(/^\s*(https?:\/\/[a-z0-9.-]+(:\d+)?\s*(,\s*https?:\/\/[a-z0-9.-]+(:\d+)?\s*)*)?$/i, { message: 'CORS_ORIGINS must be a comma-separated list of http(s) origins' })
  CORS_ORIGINS = '';

  /** Extra authorities (host[:port]) that signatures may be made for. */
  @Matches(AUTHORITY_LIST, { message: 'ACCEPTED_AUTHORITIES must be a comma-separated list of host[:port]' })
  ACCEPTED_AUTHORITIES = '';

  /** Foreign authorities whose agents are resolved remotely, e.g. `*.api.vestauth.com`. */
  @Matches(DOMAIN_LIST, { message: 'TRUSTED_AGENT_DOMAINS must be a comma-separated list of host names, optionally with a leading *.' })
  TRUSTED_AGENT_DOMAINS = '';

  @Transform(toBoolean)
  @IsBoolean()
  REMOTE_ALLOW_INSECURE_LOCALHOST = false;

  @Transform(toBoolean)
  @IsBoolean()
  REMOTE_ALLOW_PRIVATE_NETWORKS = false;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(30000)
  REMOTE_TIMEOUT_MS = 2000;

  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(1024 * 1024)
  REMOTE_MAX_BYTES = 64 * 1024;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(600)
  CLOCK_SKEW_SECONDS = 30;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(86400)
  MAX_SIGNATURE_LIFETIME_SECONDS?: number;

  @Transform(toBoolean)
  @IsBoolean()
  REQUIRE_NONCE = true;

  @IsString()
  @Matches(/^[\x21-\x7e]{1,64}$/, { message: 'SIGNATURE_TAG must be 1 to 64 visible ASCII characters' })
  SIGNATURE_TAG = 'web-bot-auth';

  @Transform(toBoolean)
  @IsBoolean()
  STRICT_SIGNATURE_AGENT_COVERAGE = false;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(60000)
  KEY_CACHE_TTL_MS = 2000;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  KEY_CACHE_NOTIFIED_TTL_MS = 300_000;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  KEY_CACHE_MAX_ENTRIES = 100_000;

  /** Imported public keys (KeyObjects) kept: ~0.7 KB of OpenSSL memory each, so by default fewer than key rows. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  KEY_CACHE_IMPORTED_KEYS = 20_000;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(86400)
  DIRECTORY_MAX_AGE_SECONDS = 60;

  @Matches(UID_LIST, { message: 'ADMIN_AGENT_UIDS must be a comma-separated list of agent-<24 hex> uids' })
  ADMIN_AGENT_UIDS = '';

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(36500)
  AUDIT_RETENTION_DAYS?: number;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3600)
  NONCE_PURGE_INTERVAL_SECONDS = 60;

  /**
   * After SIGTERM, how long the service keeps serving (with `Connection:
   * close`) while /health/* answers 503, so that a load balancer stops
   * sending it requests before its port closes.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(300)
  SHUTDOWN_DRAIN_SECONDS = 0;

  /** After the drain, how long in-flight requests and shutdown work may take before connections are cut and the process exits 1. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(600)
  SHUTDOWN_TIMEOUT_SECONDS = 20;

  /** Secret for the audit seal HMAC; without it seals are plain SHA-256 (tamper-evident only against a careless editor). */
  @IsOptional()
  @IsString()
  @Matches(/^.{32,}$/, { message: 'AUDIT_SEAL_KEY must be at least 32 characters' })
  AUDIT_SEAL_KEY?: string;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3600)
  AUDIT_SEAL_INTERVAL_SECONDS = 10;

  /** Events are sealed once older than this: longer than any transaction that writes them may run. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3600)
  AUDIT_SEAL_GRACE_SECONDS = 30;

  @Transform(toInt)
  @IsInt()
  @Min(60)
  @Max(86400)
  AUDIT_PURGE_INTERVAL_SECONDS = 3600;

  /** Registrations and rotations per client IP per minute, per instance; 0 turns the limit off. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  RATE_LIMIT_REGISTER_PER_MINUTE = 60;

  /** Failed verifications per client IP per minute, per instance (never charged to the agent a request names); 0 turns the limit off. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  RATE_LIMIT_FAILED_VERIFY_PER_MINUTE = 60;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  DB_POOL_SIZE = 10;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(60000)
  DB_CONNECT_TIMEOUT_MS = 3000;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600000)
  DB_STATEMENT_TIMEOUT_MS = 3000;
}

export class ConfigValidationError extends Error {
  constructor(readonly variable: string, detail: string) {
    super(`Invalid configuration: ${variable}: ${detail}`);
    this.name = 'ConfigValidationError';
  }
}

/** Validates the raw environment; throws ConfigValidationError naming the first bad variable. */
export function validateEnvironment(raw: Record<string, string | undefined>): EnvironmentVariables {
  const known = Object.keys(new EnvironmentVariables()).concat([...OPTIONAL]);
  const picked: Record<string, string> = {};
  for (const key of known) {
    const value = raw[key];
    // An empty optional variable means "not set" (as `FOO=` in a .env file).
    if (value !== undefined && !(value === '' && isOptional(key))) picked[key] = value;
  }
  const env = plainToInstance(EnvironmentVariables, picked, { exposeDefaultValues: true });
  const errors = validateSync(env, { skipMissingProperties: false, forbidUnknownValues: true });
  if (errors.length > 0) {
    const first = errors[0];
    throw new ConfigValidationError(first.property, describe(first, raw[first.property]));
  }
  const badProxy = invalidTrustProxyEntry(env.TRUST_PROXY);
  if (badProxy !== undefined) {
    throw new ConfigValidationError('TRUST_PROXY', `"${badProxy.slice(0, 60)}" is not an IP address, a subnet (address/prefix) or loopback, linklocal, uniquelocal`);
  }
  // Remote discovery is HTTPS-only in production, whatever else is set.
  if (env.NODE_ENV === 'production' && env.REMOTE_ALLOW_INSECURE_LOCALHOST) {
    throw new ConfigValidationError('REMOTE_ALLOW_INSECURE_LOCALHOST', 'must be false when NODE_ENV=production (remote directories are HTTPS only)');
  }
  return env;
}

const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * The first entry of a TRUST_PROXY address list that Express (proxy-addr)
 * would refuse at start with a stack trace, or undefined: an empty entry,
 * a name it does not know, an invalid address or prefix.
 */
export function invalidTrustProxyEntry(value: string): string | undefined {
  const v = value.trim().toLowerCase();
  if (v === 'false' || v === 'true' || /^\d{1,2}$/.test(v)) return undefined;
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (TRUST_PROXY_NAMES.has(entry.toLowerCase())) continue;
    const [address, prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return entry;
    if (prefix === undefined) continue;
    const max = family === 4 ? 32 : 128;
    const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : family === 4 && isIPv4(prefix) ? 0 : -1;
    if (bits < 0 || bits > max) return entry;
  }
  return undefined;
}

const OPTIONAL = new Set(['PUBLIC_URL', 'DATABASE_URL', 'MAX_SIGNATURE_LIFETIME_SECONDS', 'AUDIT_RETENTION_DAYS', 'AUDIT_SEAL_KEY', 'NODE_ENV']);
const SECRET = new Set(['DATABASE_URL', 'AUDIT_SEAL_KEY']);

function isOptional(key: string): boolean {
  return OPTIONAL.has(key);
}

function describe(error: ValidationError, value: string | undefined): string {
  // A value of the wrong type fails its bounds too: name the type check (isInt, isIn, …) first.
  const constraints = Object.entries(error.constraints ?? {});
  const message = (constraints.find(([name]) => name.startsWith('is')) ?? constraints[0])?.[1] ?? 'invalid value';
  // Never echo secrets: DATABASE_URL may hold a password.
  const shown = SECRET.has(error.property) || value === undefined ? '' : ` (got ${JSON.stringify(value.slice(0, 80))})`;
  return `${message}${shown}`;
}
