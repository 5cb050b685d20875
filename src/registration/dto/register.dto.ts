import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsObject, ValidateNested } from 'class-validator';
import { Ed25519PublicJwkView } from '../../agents/dto/public-jwk-view.dto';
import { PublicJwkDto } from './public-jwk.dto';

/** Body of POST /register and POST /rotate: the (new) public key. */
export class PublicKeyBodyDto {
  @ApiProperty({ type: () => PublicJwkDto })
  @IsDefined({ message: 'public_jwk is required' })
  @IsObject({ context: { errorCode: 'INVALID_PUBLIC_JWK' } })
  @ValidateNested()
  @Type(() => PublicJwkDto)
  public_jwk: PublicJwkDto;
}

export class RegisterResponse {
  @ApiProperty({ description: 'The agent uid: `agent-` and 24 hex digits.', example: 'agent-4b94ccb4f5a6c3b8d3e1f0a2' })
  uid: string;

  @ApiProperty({ description: 'RFC 7638 thumbprint of the key.' })
  kid: string;

  @ApiProperty({ type: () => Ed25519PublicJwkView })
  public_jwk: Record<string, unknown>;

  @ApiProperty({ description: 'false when this key was registered already: the same agent comes back.' })
  is_new: boolean;
}

export class RotateResponse {
  @ApiProperty({ example: 'agent-4b94ccb4f5a6c3b8d3e1f0a2' })
  uid: string;

  @ApiProperty({ description: 'RFC 7638 thumbprint of the new key, now the only active one.' })
  kid: string;

  @ApiProperty({ type: () => Ed25519PublicJwkView })
  public_jwk: Record<string, unknown>;
}
