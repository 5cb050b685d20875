import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import type { ErrorBody } from '../filters/api-exception.filter';
import { ERROR_STATUS, ErrorCode } from './error-code';

/** Every code the service answers with, in the order of the status table. */
export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

/**
 * OpenAPI description of the error body the one filter writes. `implements`
 * ties it to the filter's own type, so the documented shape cannot drift.
 */
@ApiSchema({ name: 'ErrorDetail' })
export class ErrorDetailDto {
  @ApiProperty({ type: 'integer', description: 'The HTTP status, repeated for clients that only keep the body.', example: 401 })
  status: number;

  @ApiProperty({ enum: ERROR_CODES, enumName: 'ErrorCode', description: 'Stable, machine-readable code; vestauth prints `[code] message`.' })
  code: ErrorCode;

  @ApiProperty({ description: 'Human-readable; never contains key or signature material.', example: 'invalid signature' })
  message: string;

  @ApiPropertyOptional({ description: 'A hint on how to fix the request, when there is one.' })
  help?: string;
}

@ApiSchema({ name: 'ErrorBody', description: 'Every error, whatever its status: `{"error":{"status","code","message","help?"}}`.' })
export class ErrorBodyDto implements ErrorBody {
  @ApiProperty({ type: () => ErrorDetailDto })
  error: ErrorDetailDto;
}
