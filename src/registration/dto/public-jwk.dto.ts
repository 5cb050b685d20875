import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { Equals, IsOptional, IsString, Matches, MaxLength, ValidateBy, ValidationOptions } from 'class-validator';

/** 32 bytes in unpadded base64url (see `x` below). */
export const ED25519_X_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
/** The longest `kid` a client may send (it must equal the thumbprint anyway). */
export const MAX_CLIENT_KID_LENGTH = 128;

const PRIVATE = { context: { errorCode: 'PRIVATE_KEY_MATERIAL' } };
const INVALID = { context: { errorCode: 'INVALID_PUBLIC_JWK' } };

/** Fails when the member is present at all: its presence is the problem, whatever its value. */
function IsAbsent(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isAbsent',
      validator: {
        validate: (value: unknown) => value === undefined,
        defaultMessage: () => 'private key material is not accepted: send the public key only',
      },
    },
    options,
  );
}

/**
 * An Ed25519 public JWK (RFC 8037). The private members are declared only
 * to be refused: with the pipe's whitelist they would otherwise be dropped
 * silently and a leaked private key would be "accepted". They come first so
 * their error is the one reported.
 */
@ApiSchema({ name: 'PublicJwkInput', description: 'An Ed25519 public JWK. Private members (`d`, …) are refused with PRIVATE_KEY_MATERIAL; other extra members are ignored.' })
export class PublicJwkDto {
  @IsAbsent(PRIVATE) d?: unknown;
  @IsAbsent(PRIVATE) p?: unknown;
  @IsAbsent(PRIVATE) q?: unknown;
  @IsAbsent(PRIVATE) dp?: unknown;
  @IsAbsent(PRIVATE) dq?: unknown;
  @IsAbsent(PRIVATE) qi?: unknown;
  @IsAbsent(PRIVATE) oth?: unknown;
  @IsAbsent(PRIVATE) k?: unknown;

  @ApiProperty({ enum: ['OKP'] })
  @Equals('OKP', { ...INVALID, message: 'kty must be "OKP" (Ed25519 keys only)' })
  kty: 'OKP';

  @ApiProperty({ enum: ['Ed25519'] })
  @Equals('Ed25519', { ...INVALID, message: 'crv must be "Ed25519"' })
  crv: 'Ed25519';

  // 32 bytes in unpadded base64url are exactly 43 characters, the last one
  // carrying only 4 significant bits (so it is one of AEIMQUYcgkosw048).
  @ApiProperty({ description: 'The 32-byte public key, base64url without padding.', pattern: '^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$' })
  @IsString(INVALID)
  @Matches(ED25519_X_PATTERN, { ...INVALID, message: 'x must be 32 bytes, base64url without padding' })
  x: string;

  @ApiPropertyOptional({ description: 'When sent, must be the RFC 7638 thumbprint of the key (else KEY_ID_MISMATCH).', maxLength: MAX_CLIENT_KID_LENGTH })
  @IsOptional()
  @IsString(INVALID)
  @MaxLength(MAX_CLIENT_KID_LENGTH, INVALID)
  kid?: string;
}
