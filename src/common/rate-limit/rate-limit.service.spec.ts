import { Logger } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config';
import { RateLimitedError, RateLimitService } from './rate-limit.service';

function service(failedVerifyPerMinute: number, registerPerMinute = 5): RateLimitService {
  return new RateLimitService({ rateLimit: { registerPerMinute, failedVerifyPerMinute } } as AppConfig);
}

describe(RateLimitService.name, () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('refuses a client IP whose failures used up the budget, with a Retry-After', () => {
    const sut = service(3);
    for (let i = 0; i < 3; i++) {
      expect(() => sut.checkFailures('203.0.113.7')).not.toThrow();
      sut.recordFailure('203.0.113.7');
    }
    let error: unknown;
    try {
      sut.checkFailures('203.0.113.7');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 20 }); // one token per 20 s
    expect(sut.limited).toBe(1);
  });

  it("never limits another client because of one client's failures", () => {
    const sut = service(3);
    for (let i = 0; i < 100; i++) sut.recordFailure('203.0.113.7');
    expect(() => sut.checkFailures('198.51.100.1')).not.toThrow();
    expect(sut.limited).toBe(0);
  });

  it('keeps each client to its own budget however many clients fail', () => {
    const sut = service(3);
    for (let ip = 0; ip < 50; ip++) for (let i = 0; i < 2; i++) sut.recordFailure(`192.0.2.${ip}`);
    expect(() => sut.checkFailures('192.0.2.0')).not.toThrow(); // 2 of 3 spent
    expect(() => sut.checkFailures('198.51.100.1')).not.toThrow();
  });

  it('is off with a budget of 0', () => {
    const sut = service(0);
    for (let i = 0; i < 1000; i++) sut.recordFailure('203.0.113.7');
    expect(() => sut.checkFailures('203.0.113.7')).not.toThrow();
  });

  it('counts registrations per client IP, apart from failures', () => {
    const sut = service(3, 2);
    sut.spendRegistration('203.0.113.7');
    sut.spendRegistration('203.0.113.7');
    expect(() => sut.spendRegistration('203.0.113.7')).toThrow(RateLimitedError);
    expect(() => sut.spendRegistration('198.51.100.1')).not.toThrow();
    expect(() => sut.checkFailures('203.0.113.7')).not.toThrow();
  });
});
