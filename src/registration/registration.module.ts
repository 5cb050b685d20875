import { Module } from '@nestjs/common';
import { AgentsModule } from '../agents/agents.module';
import { AuditModule } from '../audit/audit.module';
import { RegistrationAuditInterceptor } from './registration-audit.interceptor';
import { RegistrationController } from './registration.controller';
import { RegistrationService } from './registration.service';
import { RegistrationRepository } from './registration.repository';
import { RegistrationMetricsInterceptor } from './registration-metrics.interceptor';
import { AgentAdminService } from './agent-admin.service';
import { AgentsAdminController } from './agents-admin.controller';

/** POST /register and POST /rotate. The signature core comes from the (global) Verification module. */
@Module({
  imports: [AgentsModule, AuditModule],
  controllers: [RegistrationController, AgentsAdminController],
  providers: [RegistrationService, RegistrationRepository, RegistrationAuditInterceptor, RegistrationMetricsInterceptor, AgentAdminService],
})
export class RegistrationModule {}
