import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckResult, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/http/openapi.decorators';
import { AppConfig } from '../config/app-config';

export class ServiceStatus {
  @ApiProperty({ enum: ['vestauth'] })
  service: 'vestauth';

  @ApiProperty({ enum: ['ok'] })
  status: 'ok';

  @ApiProperty({ example: '0.1.0' })
  version: string;
}

const INDICATORS = {
  type: 'object',
  additionalProperties: { type: 'object', properties: { status: { type: 'string', example: 'up' } }, additionalProperties: true },
  example: { database: { status: 'up' } },
} as const;

/** Terminus' result, documented here: its own Swagger schema also claims the 503 body, which our filter rewrites. */
export class HealthStatus implements HealthCheckResult {
  @ApiProperty({ enum: ['ok'] })
  status: 'ok';

  @ApiPropertyOptional({ ...INDICATORS, description: 'Indicators that are up.' })
  info?: HealthCheckResult['info'];

  @ApiPropertyOptional({ ...INDICATORS, description: 'Indicators that are down (empty on a 200).' })
  error?: HealthCheckResult['error'];

  @ApiProperty({ ...INDICATORS, description: 'Every indicator.' })
  details: HealthCheckResult['details'];
}

const NO_SWAGGER = { noCache: true, swaggerDocumentation: false };

@ApiTags('health')
@Controller()
export class StatusController {
  constructor(
    private readonly config: AppConfig,
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Service name and version' })
  @ApiOkResponse({ type: ServiceStatus })
  status(): ServiceStatus {
    return { service: 'vestauth', status: 'ok', version: this.config.version };
  }

  /** The process is up; says nothing about the database (a restart would not help it). */
  @Get('health/live')
  @HealthCheck(NO_SWAGGER)
  @ApiOperation({ summary: 'Liveness probe', description: 'The process is up. Says nothing about the database: restarting would not help it.' })
  @ApiOkResponse({ type: HealthStatus })
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** Ready to serve: the database answers. */
  @Get('health/ready')
  @HealthCheck(NO_SWAGGER)
  @ApiOperation({ summary: 'Readiness probe', description: 'Ready to serve: the database answers within 2 s.' })
  @ApiOkResponse({ type: HealthStatus })
  @ApiErrors('DATABASE_UNAVAILABLE')
  ready(): Promise<HealthCheckResult> {
    return this.health.check([() => this.db.pingCheck('database', { timeout: 2000 })]);
  }
}
