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
 * Budgets per client IP (and per agent where known), per instance: the
 * buckets live in this process, so N instances allow up to N times the
 * budget. Registrations spend a token each; verifications spend one only
 * when they fail, so well-behaved agents are never limited.
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

  /** One registration (or rotation) by this client. */
  spendRegistration(ip: string): void {
    this.enforce(this.registrations.take(`ip:${ip}`), 'registration', ip);
  }

  /** Before verifying: refuse a client (or agent) whose failures used up the budget. */
  checkFailures(ip: string, agentUid?: string): void {
    this.enforce(this.failures.waitSeconds(`ip:${ip}`), 'failed verification', ip);
    if (agentUid) this.enforce(this.failures.waitSeconds(`agent:${agentUid}`), 'failed verification', agentUid);
  }

  /** After a failed verification. */
  recordFailure(ip: string, agentUid?: string): void {
    this.failures.take(`ip:${ip}`);
    if (agentUid) this.failures.take(`agent:${agentUid}`);
  }

  private enforce(waitSeconds: number, what: string, who: string): void {
    if (waitSeconds === 0) return;
    this.limited++;
    this.logger.warn(`Rate limited ${what} for ${who}`);
    throw new RateLimitedError(waitSeconds);
  }
}
