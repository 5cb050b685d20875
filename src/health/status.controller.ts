import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckResult, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { AppConfig } from '../config/app-config';

export interface ServiceStatus {
  service: 'vestauth';
  status: 'ok';
  version: string;
}

@Controller()
export class StatusController {
  constructor(
    private readonly config: AppConfig,
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
  ) {}

  @Get()
  status(): ServiceStatus {
    return { service: 'vestauth', status: 'ok', version: this.config.version };
  }

  /** The process is up; says nothing about the database (a restart would not help it). */
  @Get('health/live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** Ready to serve: the database answers. */
  @Get('health/ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([() => this.db.pingCheck('database', { timeout: 2000 })]);
  }
}
