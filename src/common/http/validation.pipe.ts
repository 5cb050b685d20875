import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { DomainError } from '../errors/domain-error';
import { ERROR_STATUS, ErrorCode } from '../errors/error-code';

/**
 * The global pipe: whitelist + transform, and every failure becomes
 * 400 VALIDATION_FAILED naming the first offending field (never its value,
 * which may be key material).
 */
export function createValidationPipe(): ValidationPipe {
  return new BoundedValidationPipe({
    whitelist: true,
    transform: true,
    forbidUnknownValues: true,
    stopAtFirstError: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors: ValidationError[]) => toDomainError(errors),
  });
}

// class-transformer recurses once per level of nesting: a JSON body like
// {"public_jwk":[[[…]]]} about a thousand levels deep, far under the body
// limit, overflowed the stack and answered 500. No DTO nests more than a
// few levels, so anything deeper is refused before the transform.
const MAX_BODY_NESTING = 32;

class BoundedValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && nestsDeeperThan(value, MAX_BODY_NESTING)) {
      throw new DomainError('VALIDATION_FAILED', `request body nests deeper than ${MAX_BODY_NESTING} levels`);
    }
    return super.transform(value, metadata);
  }
}

/** Iterative, so the check itself cannot overflow the stack. */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 0]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= max) return true;
    for (const child of Object.values(current)) pending.push([child, depth + 1]);
  }
  return false;
}

export function toDomainError(errors: ValidationError[]): DomainError {
  const first = firstLeaf(errors[0]);
  if (!first) return new DomainError('VALIDATION_FAILED', 'invalid request');
  const message = `${first.path}: ${Object.values(first.error.constraints ?? {})[0] ?? 'invalid value'}`;
  return new DomainError(explicitCode(first.error) ?? 'VALIDATION_FAILED', message);
}

function firstLeaf(error: ValidationError | undefined, prefix = ''): { error: ValidationError; path: string } | undefined {
  if (!error) return undefined;
  const path = prefix ? `${prefix}.${error.property}` : error.property;
  if (error.constraints && Object.keys(error.constraints).length > 0) return { error, path };
  return firstLeaf(error.children?.[0], path);
}

/** A DTO may name the code of a failed rule in its context, e.g. PRIVATE_KEY_MATERIAL. */
function explicitCode(error: ValidationError): ErrorCode | undefined {
  for (const context of Object.values(error.contexts ?? {})) {
    const code: unknown = (context as { errorCode?: unknown } | undefined)?.errorCode;
    if (typeof code === 'string' && code in ERROR_STATUS) return code as ErrorCode;
  }
  return undefined;
}
