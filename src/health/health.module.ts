import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { StatusController } from './status.controller';

@Module({
  imports: [TerminusModule.forRoot({ logger: false, errorLogStyle: 'pretty' })],
  controllers: [StatusController],
})
export class HealthModule {}
