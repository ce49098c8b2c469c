import { Controller, Get, Header } from '@nestjs/common';
import { ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { responseSchema } from '../http/response-schemas.js';
import { Public } from '../auth/public.decorator.js';
import { metricsRegistry } from './metrics.js';

/** Prometheus text format, for a scraper on the private network (like /health, no API key). */
@ApiTags('operations')
@Public()
@Controller('metrics')
export class MetricsController {
  @Get()
  @ApiProduces('text/plain')
  @ApiResponse({
    status: 200,
    description: 'the metrics',
    content: { 'text/plain': { schema: responseSchema('MetricsText') } },
  })
  @Header('content-type', metricsRegistry.contentType)
  metrics(): Promise<string> {
    return metricsRegistry.metrics();
  }
}
