import { isIPv4, isIPv6 } from 'node:net';
import { Injectable, Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { AppConfig } from '../../config/app-config';
import { DomainError } from '../errors/domain-error';
import { TokenBuckets } from './token-bucket';

/** A 429 that tells the client when to come back. */
export class RateLimitedError extends DomainError {
  constructor(readonly retryAfterSeconds: number) {
    super('RATE_LIMITED', 'too many requests', `retry after ${retryAfterSeconds} s`);
  }
}

/**
 * Budgets per client IP, per instance: the buckets live in this process, so
 * N instances allow up to N times the budget. Registrations spend a token
 * each; verifications spend one only when they fail, so well-behaved agents
 * are never limited.
 *
 * Failures are never charged to an agent: a failed request has not proved
 * to be that agent (Signature-Agent is just a header until the signature
 * holds), so a per-agent budget would let anyone lock any agent out. Nor is
 * one needed: an Ed25519 key cannot be guessed online, and the IP budget
 * already slows a client down.
 */
@Injectable()
export class RateLimitService {
  private readonly logger = new Logger(RateLimitService.name);
  private readonly registrations: TokenBuckets;
  private readonly failures: TokenBuckets;
  limited = 0;
  private readonly reported = new LRUCache<string, true>({ max: 10_000, ttl: 60_000 });

  constructor(config: AppConfig) {
    this.registrations = new TokenBuckets(config.rateLimit.registerPerMinute);
    this.failures = new TokenBuckets(config.rateLimit.failedVerifyPerMinute);
  }

  /** Outside the authority (VerificationModule.forRoot): budgets given directly, 0 = off. */
  static of(rateLimit: AppConfig['rateLimit']): RateLimitService {
    return new RateLimitService({ rateLimit } as AppConfig);
  }

  /** One registration (or rotation) by this client. */
  spendRegistration(ip: string): void {
    this.enforce(this.registrations.take(clientKey(ip)), 'registration', ip);
  }

  /** Before verifying: refuse a client whose failures used up its budget. */
  checkFailures(ip: string): void {
    this.enforce(this.failures.waitSeconds(clientKey(ip)), 'failed verification', ip);
  }

  /** After a failed verification: charged to the client that sent it, never to the agent it named. */
  recordFailure(ip: string): void {
    this.failures.charge(clientKey(ip));
  }

  private enforce(waitSeconds: number, what: string, who: string): void {
    if (waitSeconds === 0) return;
    this.limited++;
    // A flood of refusals must not become a flood of log lines: once a minute per client (the counter has them all).
    // Per client as the budget counts it (an IPv6 /64), not per address within it.
    const key = `${what}\u0000${clientKey(who)}`;
    if (!this.reported.has(key)) {
      this.reported.set(key, true);
      this.logger.warn(`Rate limited ${what} for ${who.slice(0, 64)} (logged at most once a minute for it; counted in vestauth_rate_limited_requests)`);
    }
    throw new RateLimitedError(waitSeconds);
  }
}

/**
 * The bucket of a client address: an IPv4 address (an IPv4-mapped IPv6 one
 * too) on its own, an IPv6 address by its /64, which one subscriber or host
 * gets whole and can change addresses within at will.
 */
export function clientKey(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return `ip:${mapped[1]}`;
  if (isIPv6(ip)) return `ip6:${ipv6Prefix64(ip)}`;
  if (isIPv4(ip)) return `ip:${ip}`;
  // Not an address (a forged X-Forwarded-For behind TRUST_PROXY=true): such clients share one bucket,
  // and a client-chosen string never becomes a key (they are up to the header size, 100,000 of them).
  return 'ip:not-an-address';
}

/** The first four groups of an IPv6 address, expanded (`2001:db8:0:1`). */
function ipv6Prefix64(ip: string): string {
  const [head, tail = ''] = ip.toLowerCase().split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = ip.includes('::') && tail ? tail.split(':') : [];
  // An embedded IPv4 tail (::a.b.c.d) lies in the low 64 bits: it does not change the prefix.
  const groups = ip.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':');
}
