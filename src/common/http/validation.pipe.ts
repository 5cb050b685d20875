import { ValidationError, ValidationPipe } from '@nestjs/common';
import { DomainError } from '../errors/domain-error';
import { ERROR_STATUS, ErrorCode } from '../errors/error-code';

/**
 * The global pipe: whitelist + transform, and every failure becomes
 * 400 VALIDATION_FAILED naming the first offending field (never its value,
 * which may be key material).
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    transform: true,
    forbidUnknownValues: true,
    stopAtFirstError: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors: ValidationError[]) => toDomainError(errors),
  });
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
