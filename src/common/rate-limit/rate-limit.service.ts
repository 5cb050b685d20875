import { Injectable, Logger } from '@nestjs/common';
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
    this.enforce(this.registrations.take(`ip:${ip}`), 'registration', ip);
  }

  /** Before verifying: refuse a client whose failures used up its budget. */
  checkFailures(ip: string): void {
    this.enforce(this.failures.waitSeconds(`ip:${ip}`), 'failed verification', ip);
  }

  /** After a failed verification: charged to the client that sent it, never to the agent it named. */
  recordFailure(ip: string): void {
    this.failures.take(`ip:${ip}`);
  }

  private enforce(waitSeconds: number, what: string, who: string): void {
    if (waitSeconds === 0) return;
    this.limited++;
    this.logger.warn(`Rate limited ${what} for ${who}`);
    throw new RateLimitedError(waitSeconds);
  }
}
