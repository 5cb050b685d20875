import { accessLevel } from './access-log.middleware';

describe(accessLevel.name, () => {
  it.each([
    [200, 'info'],
    [304, 'info'],
    [400, 'warn'],
    [401, 'warn'],
    [404, 'warn'],
    // A flood of 429s is the limiter working; it says so itself once a minute per client.
    [429, 'info'],
    [500, 'error'],
    // An outage: its cause is logged, once per period, by the exception filter.
    [503, 'warn'],
  ])('logs a %i at %s', (status, level) => {
    expect(accessLevel(status)).toBe(level);
  });
});
