import { ErrorCode, statusOf } from './error-code';

/**
 * The one error type services throw. It carries a DESIGN.md code; the HTTP
 * status comes from the code table, never from the thrower. `message` is
 * what the client sees, so it must never contain secrets, SQL or signature
 * material; `detail` is for the audit row and logs only.
 */
export class DomainError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly help?: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
    this.status = statusOf(code);
  }
}

/** Shorthand used by the signature core, where most errors are 401s. */
export function fail(
  code: ErrorCode,
  message: string,
  detail?: Record<string, unknown>,
): never {
  throw new DomainError(code, message, undefined, detail);
}
