import { TokenBuckets } from './token-bucket';

describe(TokenBuckets.name, () => {
  it('allows the budget, then asks to wait until a token refills', () => {
    let now = 0;
    const sut = new TokenBuckets(6, 100, () => now); // one token every 10 s
    for (let i = 0; i < 6; i++) expect(sut.take('ip')).toBe(0);
    expect(sut.take('ip')).toBe(10);
    expect(sut.waitSeconds('ip')).toBe(10);
    now = 10_000;
    expect(sut.take('ip')).toBe(0);
    expect(sut.take('ip')).toBeGreaterThan(0);
  });

  it('keeps keys apart', () => {
    const sut = new TokenBuckets(1, 100, () => 0);
    expect(sut.take('a')).toBe(0);
    expect(sut.take('a')).toBe(60);
    expect(sut.take('b')).toBe(0);
  });

  it('is off with a budget of 0', () => {
    const sut = new TokenBuckets(0);
    for (let i = 0; i < 1000; i++) expect(sut.take('ip')).toBe(0);
  });

  it('charges failures found after their check into debt, at most a minute of budget: a burst in flight pays with a longer wait', () => {
    let now = 0;
    const sut = new TokenBuckets(60, 100, () => now);
    // 1,000 requests passed the check together; each failure is charged once it is known.
    expect(sut.waitSeconds('ip')).toBe(0);
    for (let i = 0; i < 1000; i++) sut.charge('ip');
    expect(sut.waitSeconds('ip')).toBe(61);
    now = 60_000;
    expect(sut.waitSeconds('ip')).toBe(1);
    now = 61_000;
    expect(sut.waitSeconds('ip')).toBe(0);
  });

  it('refills as usual after a clock step back, even for a client whose bucket was empty', () => {
    let now = 3_600_000;
    const sut = new TokenBuckets(60, 100, () => now);
    for (let i = 0; i < 60; i++) expect(sut.take('ip')).toBe(0);
    expect(sut.waitSeconds('ip')).toBe(1);
    now = 0; // an hour back
    expect(sut.waitSeconds('ip')).toBe(1);
    now = 1_000;
    expect(sut.waitSeconds('ip')).toBe(0);
    now = 60_000;
    for (let i = 0; i < 60; i++) expect(sut.take('ip')).toBe(0);
  });

  it('uses a monotonic clock by default', () => {
    const sut = new TokenBuckets(1);
    const wall = jest.spyOn(Date, 'now').mockReturnValue(0);
    try {
      expect(sut.take('ip')).toBe(0);
      wall.mockReturnValue(-3_600_000); // the wall clock an hour back changes nothing
      expect(sut.waitSeconds('ip')).toBeGreaterThan(0);
      expect(sut.waitSeconds('ip')).toBeLessThanOrEqual(60);
    } finally {
      wall.mockRestore();
    }
  });
});
