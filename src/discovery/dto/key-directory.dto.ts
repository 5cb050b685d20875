import { ApiProperty } from '@nestjs/swagger';
import { Ed25519PublicJwkView } from '../../agents/dto/public-jwk-view.dto';
import type { StoredPublicJwk } from '../../agents/entities/public-key.entity';

/** The web-bot-auth key directory document. */
export class KeyDirectory {
  @ApiProperty({ type: () => [Ed25519PublicJwkView], description: 'The agent\'s active key: at most one, none once an admin revoked it.' })
  keys: StoredPublicJwk[];
}
