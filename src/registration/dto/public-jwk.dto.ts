import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { Equals, IsOptional, IsString, Matches, MaxLength, ValidateBy, ValidationOptions } from 'class-validator';
import { ed25519JwkXWeakness } from '../../verification/core/ed25519-key-strength';

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

const WEAKNESS_MESSAGE = {
  non_canonical: 'x is not a canonical Ed25519 point encoding (y must be below 2^255 - 19, RFC 8032 section 5.1.3)',
  small_order: 'x is a small-order Ed25519 point: signatures for it can be forged without any private key',
} as const;

/**
 * Refuses keys anyone can sign for (see ed25519-key-strength.ts). Only a
 * well-formed x is judged: its shape is the pattern's to refuse.
 */
function IsStrongEd25519Key(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isStrongEd25519Key',
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || !ED25519_X_PATTERN.test(value) || ed25519JwkXWeakness(value) === undefined,
        defaultMessage: (args) => WEAKNESS_MESSAGE[ed25519JwkXWeakness(String(args?.value)) ?? 'small_order'],
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
  @ApiProperty({
    description: 'The 32-byte public key, base64url without padding. Non-canonical encodings and small-order points are refused (INVALID_PUBLIC_JWK).',
    pattern: '^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$',
  })
  @IsString(INVALID)
  @Matches(ED25519_X_PATTERN, { ...INVALID, message: 'x must be 32 bytes, base64url without padding' })
  @IsStrongEd25519Key(INVALID)
  x: string;

  @ApiPropertyOptional({ description: 'When sent, must be the RFC 7638 thumbprint of the key (else KEY_ID_MISMATCH).', maxLength: MAX_CLIENT_KID_LENGTH })
  @IsOptional()
  @IsString(INVALID)
  @MaxLength(MAX_CLIENT_KID_LENGTH, INVALID)
  kid?: string;
}
