import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Agent } from './entities/agent.entity';
import { PublicKey } from './entities/public-key.entity';
import { AgentRepository } from './agent.repository';
import { PublicKeyRepository } from './public-key.repository';

/** Owns Agent and PublicKey; the other modules use these repositories. */
@Module({
  imports: [TypeOrmModule.forFeature([Agent, PublicKey])],
  providers: [AgentRepository, PublicKeyRepository],
  exports: [AgentRepository, PublicKeyRepository],
})
export class AgentsModule {}
