import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { MetricsService } from './metrics.service';

@ApiTags('metrics')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  /** Prometheus text exposition. Serve it on an internal network only (it names no secrets, but shows volumes). */
  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics', description: 'Text exposition format 0.0.4, for an internal network only.' })
  @ApiOkResponse({ content: { 'text/plain': { schema: { type: 'string', example: '# HELP vestauth_http_requests_total …' } } } })
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
