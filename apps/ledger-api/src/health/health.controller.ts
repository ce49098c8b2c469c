import { Controller, Get, Inject, UseFilters } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { ApiTags } from '@nestjs/swagger';
import type pg from 'pg';
import { EVENT_STORE, type EventStore } from '@ledger/event-store';
import { PG_POOL } from '../infrastructure/tokens.js';
import { Public } from '../auth/public.decorator.js';
import { HealthReportFilter } from './health-report.filter.js';

@ApiTags('operations')
@Public()
@UseFilters(HealthReportFilter)
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(EVENT_STORE) private readonly eventStore: EventStore,
    @Inject(PG_POOL) private readonly pool: pg.Pool,
  ) {}

  /** The process is up and serving HTTP. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /** The stores answer: safe to send traffic. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.checkEventStore(), () => this.checkDatabase()]);
  }

  private async checkEventStore() {
    const indicator = this.indicators.check('eventStore');
    try {
      await this.eventStore.ping();
      return indicator.up();
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }

  private async checkDatabase() {
    const indicator = this.indicators.check('database');
    try {
      await this.pool.query('SELECT 1');
      return indicator.up();
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }
}
