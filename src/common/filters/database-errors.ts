/**
 * Whether an error means "the database cannot be reached or answer now"
 * (as opposed to a bug or a constraint violation). Those become 503
 * DATABASE_UNAVAILABLE instead of 500.
 */
const UNAVAILABLE_SQLSTATE_CLASSES = ['08', '53', '57']; // connection, resources, operator intervention (incl. statement timeout)
const UNAVAILABLE_MESSAGES = [
  'connection terminated',
  'connection refused',
  'timeout exceeded when trying to connect',
  'query read timeout',
  'econnrefused',
  'econnreset',
  'etimedout',
  'ehostunreach',
  'client has encountered a connection error',
  'cannot use a pool after calling end',
  'connection is not established',
  'too many connections',
  'driver not connected',
  // SQLSTATE 55000 when a database is closed to connections (ALTER DATABASE … ALLOW_CONNECTIONS false).
  'is not currently accepting connections',
];

export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown; name?: unknown };
  if (typeof e.code === 'string' && e.code.length === 5 && UNAVAILABLE_SQLSTATE_CLASSES.includes(e.code.slice(0, 2))) {
    return true;
  }
  if (typeof e.code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE'].includes(e.code)) {
    return true;
  }
  if (e.name === 'CannotConnectAlreadyConnectedError' || e.name === 'ConnectionIsNotSetError') return true;
  const message = typeof e.message === 'string' ? e.message.toLowerCase() : '';
  if (UNAVAILABLE_MESSAGES.some((m) => message.includes(m))) return true;
  return isDatabaseUnavailable(e.driverError) || (e.cause !== error && isDatabaseUnavailable(e.cause));
}
