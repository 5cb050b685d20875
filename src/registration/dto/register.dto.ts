import { Type } from 'class-transformer';
import { IsDefined, IsObject, ValidateNested } from 'class-validator';
import { PublicJwkDto } from './public-jwk.dto';

/** Body of POST /register and POST /rotate: the (new) public key. */
export class PublicKeyBodyDto {
  @IsDefined({ message: 'public_jwk is required' })
  @IsObject({ context: { errorCode: 'INVALID_PUBLIC_JWK' } })
  @ValidateNested()
  @Type(() => PublicJwkDto)
  public_jwk: PublicJwkDto;
}

export interface RegisterResponse {
  uid: string;
  kid: string;
  public_jwk: Record<string, unknown>;
  is_new: boolean;
}

export interface RotateResponse {
  uid: string;
  kid: string;
  public_jwk: Record<string, unknown>;
}
