import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { AppConfig } from '../config/app-config';
import { GracefulShutdown } from './graceful-shutdown';
import { StatusController } from './status.controller';

@Module({
  imports: [
    TerminusModule.forRootAsync({
      inject: [AppConfig],
      // gracefulShutdownTimeoutMs: on SIGTERM, /health/* answers 503 and the port stays open this long (graceful-shutdown.ts).
      useFactory: (config: AppConfig) => ({ logger: false, errorLogStyle: 'pretty', gracefulShutdownTimeoutMs: config.shutdown.drainMs }),
    }),
  ],
  controllers: [StatusController],
  providers: [GracefulShutdown],
})
export class HealthModule {}
