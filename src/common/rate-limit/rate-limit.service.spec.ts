import { Logger } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config';
import { clientKey, RateLimitedError, RateLimitService } from './rate-limit.service';

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

describe('RateLimitService logging', () => {
  it('logs a limited client once a minute, however many refusals it gets (all counted)', () => {
    const sut = service(1);
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      sut.recordFailure('192.0.2.9');
      sut.recordFailure('192.0.2.9');
      for (let i = 0; i < 100; i++) expect(() => sut.checkFailures('192.0.2.9')).toThrow(RateLimitedError);
      expect(sut.limited).toBe(100);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(() => sut.checkFailures('192.0.2.9')).toThrow(RateLimitedError);
      expect(() => { sut.recordFailure('198.51.100.1'); sut.recordFailure('198.51.100.1'); sut.checkFailures('198.51.100.1'); }).toThrow(RateLimitedError);
      expect(warn).toHaveBeenCalledTimes(2); // another client gets its own line
      // One /64 is one client, whichever of its addresses the refusals come from.
      sut.recordFailure('2001:db8:0:7::1');
      sut.recordFailure('2001:db8:0:7::2');
      for (let i = 3; i < 50; i++) expect(() => sut.checkFailures(`2001:db8:0:7::${i.toString(16)}`)).toThrow(RateLimitedError);
      expect(warn).toHaveBeenCalledTimes(3);
    } finally {
      warn.mockRestore();
    }
  });
});

describe(clientKey.name, () => {
  it.each([
    ['an IPv4 address', '192.0.2.7', 'ip:192.0.2.7'],
    ['an IPv4-mapped IPv6 address, as the same client', '::ffff:192.0.2.7', 'ip:192.0.2.7'],
    ['an IPv6 address, by its /64', '2001:db8:0:1:aaaa:bbbb:cccc:dddd', 'ip6:2001:db8:0:1'],
    ['another address of the same /64', '2001:0db8:0000:0001::1', 'ip6:2001:db8:0:1'],
    ['a compressed prefix', '2001:db8::1', 'ip6:2001:db8:0:0'],
    ['the loopback', '::1', 'ip6:0:0:0:0'],
    ['a NAT64 address', '64:ff9b::192.0.2.7', 'ip6:64:ff9b:0:0'],
  ])('keys %s', (_name, ip, key) => {
    expect(clientKey(ip)).toBe(key);
  });

  it.each([
    ['a forged X-Forwarded-For value', 'x'.repeat(15_000)],
    ['a host name', 'proxy.internal'],
    ['an empty value', ''],
  ])('puts what is not an address (%s) in one shared, short key', (_name, ip) => {
    expect(clientKey(ip)).toBe('ip:not-an-address');
  });

  it('keeps different /64s apart', () => {
    expect(clientKey('2001:db8:0:1::1')).not.toBe(clientKey('2001:db8:0:2::1'));
  });
});
