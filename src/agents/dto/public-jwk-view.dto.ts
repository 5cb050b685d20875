import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import type { StoredPublicJwk } from '../entities/public-key.entity';

/** OpenAPI description of the canonical key this authority stores and publishes. */
@ApiSchema({ name: 'Ed25519PublicJwk', description: 'An Ed25519 public JWK (RFC 8037), exactly these four members.' })
export class Ed25519PublicJwkView implements StoredPublicJwk {
  @ApiProperty({ enum: ['OKP'] })
  kty: 'OKP';

  @ApiProperty({ enum: ['Ed25519'] })
  crv: 'Ed25519';

  @ApiProperty({ description: 'The 32-byte public key, base64url without padding.', pattern: '^[A-Za-z0-9_-]{43}$', example: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' })
  x: string;

  @ApiProperty({ description: 'RFC 7638 JWK thumbprint (SHA-256, base64url); also the RFC 9421 `keyid`.', example: 'poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U' })
  kid: string;
}

/** A verified agent's key: ours are Ed25519; a trusted foreign authority's agents may use RSA or EC keys. */
@ApiSchema({
  name: 'PublicJwk',
  description: 'The public JWK that verified the request. Agents of this authority have Ed25519 keys (`Ed25519PublicJwk`); agents of trusted foreign authorities may have RSA or EC keys, with their own members.',
})
export class PublicJwkView {
  @ApiProperty({ example: 'OKP' })
  kty: string;

  @ApiPropertyOptional({ example: 'Ed25519' })
  crv?: string;

  @ApiPropertyOptional({ example: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' })
  x?: string;

  @ApiProperty({ description: 'RFC 7638 JWK thumbprint.' })
  kid: string;
}
