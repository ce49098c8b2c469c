import { Inject, Injectable, Module, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { EVENT_STORE, type EventStore } from '@ledger/event-store';
import type { Projector } from '@ledger/projections';
import { PROJECTOR } from '../infrastructure/tokens.js';
import { ProjectionProgress } from '../projections/projection-progress.js';
import { WatchdogService } from '../watchdog/watchdog.service.js';
import { WatchdogModule } from '../watchdog/watchdog.module.js';
import { ProjectionsModule } from '../projections/projections.module.js';
import { MetricsController } from './metrics.controller.js';
import { setMetricsSource, type MetricsSource } from './metrics.js';

/** What this app reports through the gauges of metrics.ts, read at scrape time. */
@Injectable()
export class MetricsSources implements MetricsSource, OnModuleInit, OnModuleDestroy {
  constructor(
    @Inject(PROJECTOR) private readonly projector: Projector | undefined,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly progress: ProjectionProgress,
    private readonly watchdogService: WatchdogService,
  ) {}

  onModuleInit(): void {
    setMetricsSource(this);
  }

  onModuleDestroy(): void {
    setMetricsSource(undefined, this);
  }

  async projectionLag(): Promise<{ events: number; seconds: number }> {
    if (this.projector) {
      const lag = this.projector.lag();
      return { events: Number(lag.events), seconds: lag.seconds };
    }
    // The projector runs elsewhere: the head of the log against the lowest checkpoint (no age known here).
    const [head, checkpoint] = await Promise.all([this.store.headPosition(), this.progress.position()]);
    return { events: Number(head > checkpoint ? head - checkpoint : 0n), seconds: 0 };
  }

  watchdog() {
    const status = this.watchdogService.status();
    return { ...status, active: status.role === 'active' };
  }
}

@Module({ imports: [ProjectionsModule, WatchdogModule], controllers: [MetricsController], providers: [MetricsSources] })
export class MetricsModule {}
