import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

export type RegistrationOperation = 'register' | 'rotate';

/**
 * Which operation a registration route performs, for its audit rows and
 * timing. Read from the handler, not the path: Express routes `/rotate/`
 * and `/ROTATE` to the rotate handler too.
 */
export const RegistrationOperationOf = Reflector.createDecorator<RegistrationOperation>();

/** The operation of the handler in `context`; a handler without one is a programming error. */
export function registrationOperationOf(reflector: Reflector, context: ExecutionContext): RegistrationOperation {
  const operation = reflector.get(RegistrationOperationOf, context.getHandler());
  if (operation === undefined) throw new Error(`${context.getClass().name}.${context.getHandler().name} has no @RegistrationOperationOf()`);
  return operation;
}
