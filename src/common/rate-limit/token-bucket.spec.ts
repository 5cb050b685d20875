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
});
