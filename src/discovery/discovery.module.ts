import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { AgentsModule } from '../agents/agents.module';
import { AgentHostOnlyMiddleware } from './agent-host-only.middleware';
import { DiscoveryController } from './discovery.controller';
import { DiscoveryService } from './discovery.service';
import { SubdomainAgentInterceptor } from './subdomain-agent.interceptor';

@Module({
  imports: [AgentsModule],
  controllers: [DiscoveryController],
  providers: [DiscoveryService, SubdomainAgentInterceptor],
})
export class DiscoveryModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(AgentHostOnlyMiddleware).forRoutes('{*path}');
  }
}
