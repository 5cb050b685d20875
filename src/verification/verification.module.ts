import { DynamicModule, Logger, Module, Provider } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { AgentsModule } from '../agents/agents.module';
import { AuditModule } from '../audit/audit.module';
import { AuditService } from '../audit/audit.service';
import { RateLimitService } from '../common/rate-limit/rate-limit.service';
import type { AuditEntry } from '../audit/audit-entry';
import { SUPPORTED_ALGORITHMS } from './core/signature-policy';
import { UsedNonce } from './entities/used-nonce.entity';
import { Clock } from './clock';
import { KeyResolver } from './key-resolver';
import { LocalKeyResolver } from './local-key-resolver';
import { KeyInvalidation } from './key-invalidation';
import { KeyCachePolicy } from './key-cache-policy';
import { RemoteKeyResolver } from './remote-key-resolver';
import { MemoryNonceStore } from './memory-nonce-store';
import { NonceStore } from './nonce-store';
import { PostgresNonceStore } from './postgres-nonce-store';
import { UsedNonceRepository } from './used-nonce.repository';
import { SignatureVerifier } from './signature-verifier';
import { SignedRequestGuard } from './signed-request.guard';
import { VerificationAuditSink } from './verification-audit';
import { VerificationOptions } from './verification-options';
import { VerificationService } from './verification.service';
import { WhoamiController } from './whoami.controller';

/** Options for a service other than the authority that protects its routes with @SignedAgent. */
export interface VerificationModuleOptions {
  /** The authority's public URL, e.g. https://auth.internal.example: its agents are trusted. */
  authorityUrl: string;
  /** host[:port] values this service is addressed as (signatures must be made for one of them). */
  acceptedAuthorities: string[];
  /** More foreign authorities' agent domains (`*.example.com`). */
  trustedAgentDomains?: string[];
  adminAgentUids?: string[];
  clockSkewSeconds?: number;
  maxLifetimeSeconds?: number;
  /** Remote directory cache bound (ms); default 60 s. */
  directoryCacheTtlMs?: number;
  /** Allow http:// and loopback authorities (development and tests only). */
  allowInsecureLocalhost?: boolean;
  allowPrivateNetworks?: boolean;
  /**
   * Where nonces live. A TypeORM DataSource of the service's own PostgreSQL
   * (with the `used_nonces` table, see the README) makes replay protection
   * hold across its instances; any NonceStore works too. Default: in memory,
   * per instance, with a warning.
   */
  nonceStore?: NonceStore | { dataSource: DataSource };
  /**
   * Failed verifications a client IP may make per minute before 429 (0 = off;
   * default 60, as the authority's RATE_LIMIT_FAILED_VERIFY_PER_MINUTE). Each
   * failure may cost a directory fetch at the authority; behind a proxy, set
   * Express's `trust proxy` so that the IP is the client's.
   */
  failedVerifyPerMinute?: number;
}

const SHARED_PROVIDERS: Provider[] = [
  Clock,
  SignatureVerifier,
  SignedRequestGuard,
  {
    provide: KeyResolver,
    inject: [VerificationOptions],
    useFactory: (options: VerificationOptions) => new RemoteKeyResolver(options.remote),
  },
];

/**
 * SignedRequestGuard, @SignedAgent() and the signature core. Inside the
 * authority (`forAuthority`) keys come from the database and outcomes go to
 * the audit table; in another service (`forRoot`) keys come from the
 * authority's published directories.
 */
@Module({})
export class VerificationModule {
  static forAuthority(): DynamicModule {
    return {
      module: VerificationModule,
      global: true,
      imports: [AgentsModule, AuditModule, TypeOrmModule.forFeature([UsedNonce])],
      controllers: [WhoamiController],
      providers: [
        ...SHARED_PROVIDERS,
        { provide: VerificationOptions, inject: [AppConfig], useFactory: fromAppConfig },
        KeyCachePolicy,
        LocalKeyResolver,
        KeyInvalidation,
        UsedNonceRepository,
        {
          provide: NonceStore,
          inject: [UsedNonceRepository, AppConfig],
          useFactory: (repo: UsedNonceRepository, config: AppConfig) =>
            new PostgresNonceStore(repo, config.verification.noncePurgeIntervalSeconds),
        },
        { provide: VerificationAuditSink, useExisting: AuditService },
        {
          provide: VerificationService,
          inject: [VerificationOptions, SignatureVerifier, LocalKeyResolver, KeyResolver, VerificationAuditSink, RateLimitService],
          useFactory: (...deps: ConstructorParameters<typeof VerificationService>) => new VerificationService(...deps),
        },
      ],
      exports: [VerificationOptions, SignatureVerifier, VerificationService, LocalKeyResolver, KeyResolver, KeyInvalidation, KeyCachePolicy, NonceStore, SignedRequestGuard],
    };
  }

  static forRoot(options: VerificationModuleOptions): DynamicModule {
    return {
      module: VerificationModule,
      global: true,
      providers: [
        ...SHARED_PROVIDERS,
        { provide: VerificationOptions, useValue: fromModuleOptions(options) },
        { provide: NonceStore, useFactory: () => nonceStoreOf(options) },
        { provide: VerificationAuditSink, useClass: LogAuditSink },
        {
          provide: VerificationService,
          inject: [VerificationOptions, SignatureVerifier, KeyResolver, VerificationAuditSink],
          useFactory: (o: VerificationOptions, s: SignatureVerifier, remote: KeyResolver, sink: VerificationAuditSink) =>
            new VerificationService(o, s, null, remote, sink, RateLimitService.of({ registerPerMinute: 0, failedVerifyPerMinute: options.failedVerifyPerMinute ?? 60 })),
        },
      ],
      exports: [VerificationService, SignedRequestGuard],
    };
  }
}

/**
 * Outside the authority, verification outcomes go to the log. Refusals are
 * already logged at warn by VerificationService; a replay found by the
 * nonce store is logged here.
 */
class LogAuditSink extends VerificationAuditSink {
  private readonly logger = new Logger('SignedAgentAudit');

  async record(entry: AuditEntry): Promise<void> {
    const line = `verify ${entry.outcome}${entry.errorCode ? ` ${entry.errorCode}` : ''} agent=${entry.agentUid ?? '-'} ${entry.context?.method ?? ''} ${entry.context?.path ?? ''}`;
    if (entry.outcome === 'success') this.logger.log(line);
    else if (entry.errorCode === 'REPLAYED_NONCE') this.logger.warn(line);
  }
}

function nonceStoreOf(options: VerificationModuleOptions): NonceStore {
  const store = options.nonceStore;
  if (!store) return new MemoryNonceStore();
  if (store instanceof NonceStore) return store;
  // Only used_nonces lives there (README): outcomes go to this service's own sink, never to an audit_events table.
  return new PostgresNonceStore(new UsedNonceRepository(store.dataSource), 60, false);
}

function fromAppConfig(config: AppConfig): VerificationOptions {
  const v = config.verification;
  return {
    clockSkewSeconds: v.clockSkewSeconds,
    maxLifetimeSeconds: v.maxLifetimeSeconds,
    requireNonce: v.requireNonce,
    tag: v.tag,
    supportedAlgorithms: SUPPORTED_ALGORITHMS,
    strictSignatureAgentCoverage: v.strictSignatureAgentCoverage,
    acceptedAuthorities: v.acceptedAuthorities,
    local: { scheme: config.publicUrl.protocol === 'https:' ? 'https' : 'http', authority: config.authority },
    homeAuthority: config.authority,
    homeScheme: config.publicUrl.protocol === 'https:' ? 'https' : 'http',
    trustedAgentDomains: v.trustedAgentDomains,
    keyCache: { ttlMs: v.keyCacheTtlMs, notifiedTtlMs: v.keyCacheNotifiedTtlMs, maxEntries: v.keyCacheMaxEntries, importedKeys: v.keyCacheImportedKeys },
    remote: {
      timeoutMs: v.remote.timeoutMs,
      maxBytes: v.remote.maxBytes,
      allowInsecureLocalhost: v.remote.allowInsecureLocalhost,
      allowPrivateNetworks: v.remote.allowPrivateNetworks,
    },
    adminAgentUids: config.adminAgentUids,
  };
}

function fromModuleOptions(options: VerificationModuleOptions): VerificationOptions {
  const authority = new URL(options.authorityUrl).host.toLowerCase();
  const skew = options.clockSkewSeconds ?? 30;
  return {
    clockSkewSeconds: skew,
    maxLifetimeSeconds: options.maxLifetimeSeconds ?? 300 + skew,
    requireNonce: true,
    tag: 'web-bot-auth',
    supportedAlgorithms: SUPPORTED_ALGORITHMS,
    strictSignatureAgentCoverage: false,
    acceptedAuthorities: options.acceptedAuthorities.map((a) => a.toLowerCase()),
    homeAuthority: authority,
    homeScheme: new URL(options.authorityUrl).protocol === 'https:' ? 'https' : 'http',
    trustedAgentDomains: [`*.${authority}`, ...(options.trustedAgentDomains ?? [])],
    keyCache: { ttlMs: 2000, maxEntries: 10_000, importedKeys: 10_000 },
    remote: {
      allowInsecureLocalhost: options.allowInsecureLocalhost ?? false,
      allowPrivateNetworks: options.allowPrivateNetworks ?? false,
      cacheTtlMs: options.directoryCacheTtlMs ?? 60_000,
    },
    adminAgentUids: new Set(options.adminAgentUids ?? []),
  };
}
