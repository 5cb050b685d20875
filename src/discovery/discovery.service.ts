import { Injectable } from '@nestjs/common';
import { fail } from '../common/errors/domain-error';
import { PublicKeyRepository } from '../agents/public-key.repository';
import type { StoredPublicJwk } from '../agents/entities/public-key.entity';
import type { KeyDirectory } from './dto/key-directory.dto';

@Injectable()
export class DiscoveryService {
  constructor(private readonly keys: PublicKeyRepository) {}

  /** The active keys of an active agent; unknown and disabled agents are 404 alike. */
  async directory(uid: string): Promise<KeyDirectory> {
    const { agentFound, keys } = await this.keys.findPublishedKeys(uid);
    if (!agentFound) fail('UNKNOWN_AGENT', 'unknown agent');
    return toDirectory(keys);
  }
}

/** Exactly `{"keys":[{kty,crv,x,kid}…]}`: nothing but the canonical public members. */
export function toDirectory(keys: readonly StoredPublicJwk[]): KeyDirectory {
  return { keys: keys.map(({ kty, crv, x, kid }) => ({ kty, crv, x, kid })) };
}
