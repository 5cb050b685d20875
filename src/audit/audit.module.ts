import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditEvent } from './entities/audit-event.entity';
import { AuditSeal } from './entities/audit-seal.entity';
import { AuditEventRepository } from './audit-event.repository';
import { AuditSealRepository } from './audit-seal.repository';
import { AuditService } from './audit.service';
import { AuditQueryService } from './audit-query.service';
import { AuditIntegrityService } from './audit-integrity.service';
import { AuditRetentionService } from './audit-retention.service';
import { AuditAdminService } from './audit-admin.service';
import { AuditAdminController } from './audit-admin.controller';

/** Owns AuditEvent and AuditSeal: recording, sealing, retention and queries. */
@Module({
  imports: [TypeOrmModule.forFeature([AuditEvent, AuditSeal])],
  controllers: [AuditAdminController],
  providers: [AuditEventRepository, AuditSealRepository, AuditService, AuditQueryService, AuditIntegrityService, AuditRetentionService, AuditAdminService],
  exports: [AuditService, AuditQueryService, AuditIntegrityService, AuditRetentionService, AuditEventRepository],
})
export class AuditModule {}
