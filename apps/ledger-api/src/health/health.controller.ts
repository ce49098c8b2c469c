import { Controller, Get, Inject, UseFilters } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { ApiResponse, ApiTags } from '@nestjs/swagger';
import { responseSchema } from '../http/response-schemas.js';
import type pg from 'pg';
import { EVENT_STORE, type EventStore } from '@ledger/event-store';
import { PG_POOL, PROJECTOR } from '../infrastructure/tokens.js';
import type { Projector } from '@ledger/projections';
import { Public } from '../auth/public.decorator.js';
import { HealthReportFilter } from './health-report.filter.js';
import { WatchdogService } from '../watchdog/watchdog.service.js';
import { OutboundService } from '../outbound/outbound.service.js';

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
    @Inject(PROJECTOR) private readonly projector: Projector | undefined,
    private readonly watchdog: WatchdogService,
    private readonly outbound: OutboundService,
  ) {}

  /** The process is up and serving HTTP. */
  @Get('live')
  @ApiResponse({ status: 200, description: 'up', schema: responseSchema('Health') })
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /** The stores answer: safe to send traffic. */
  @Get('ready')
  @ApiResponse({ status: 200, description: 'ready', schema: responseSchema('Health') })
  @ApiResponse({ status: 503, description: 'a store or a projection is down', schema: responseSchema('Health') })
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.checkEventStore(),
      () => this.checkDatabase(),
      () => this.checkProjections(),
      () => this.checkWatchdog(),
      () => this.checkOutbound(),
    ]);
  }

  /** Reported, not judged: a standby is as ready as the active watchdog, and a failed sweep is retried. */
  private checkWatchdog() {
    const { role, lastSweepAt, sweeps, projectsFailed, lastError } = this.watchdog.status();
    return this.indicators.check('watchdog').up({ role, lastSweepAt, sweeps, projectsFailed, lastError });
  }

  /** Outbound webhooks: reported, not judged (a receiver that is down is its owner's problem, retried for 3 days). */
  private async checkOutbound() {
    const indicator = this.indicators.check('outbound');
    try {
      return indicator.up({ ...(await this.outbound.status()) });
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }

  /**
   * Lag is reported, not judged: a projector catching up is still serving. A failed projection
   * is down. Lag is a distance in positions: events on PostgreSQL, bytes of log on KurrentDB
   * (`positionUnit`), so `lagEvents` is there only when positions count events.
   */
  private checkProjections() {
    const indicator = this.indicators.check('projections');
    if (!this.projector) return indicator.up({ mode: 'external' });
    const lag = this.projector.lag();
    const failed = this.projector.status().filter((s) => s.failed);
    const positionUnit = this.eventStore.positionUnit ?? 'events';
    const behind = Number(lag.events);
    const data = {
      ...(positionUnit === 'events' ? { lagEvents: behind } : {}),
      lagPositions: behind,
      positionUnit,
      lagSeconds: lag.seconds,
    };
    return failed.length > 0
      ? indicator.down({ ...data, failed: failed.map((s) => s.projection) })
      : indicator.up(data);
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
