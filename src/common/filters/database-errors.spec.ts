import { isDatabaseUnavailable } from './database-errors';

describe(isDatabaseUnavailable.name, () => {
  it.each([
    ['a connection failure (class 08)', { code: '08006', message: 'connection failure' }],
    ['a statement timeout (class 57)', { code: '57014', message: 'canceling statement due to statement timeout' }],
    ['a database closed to connections (55000)', { code: '55000', message: 'database "authority" is not currently accepting connections' }],
    ['a refused socket', { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' }],
    ['a driver error wrapped by TypeORM', { message: 'query failed', driverError: { code: '57P01', message: 'terminating connection' } }],
  ])('is true for %s', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', { code: '23505', message: 'duplicate key value violates unique constraint' }],
    ['a syntax error', { code: '42601', message: 'syntax error at or near' }],
    ['another object-state error', { code: '55000', message: 'cannot execute this in a read-only transaction' }],
    ['something that is not an error', 'nope'],
  ])('is false for %s', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
