import { Global, Inject, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type pg from 'pg';
import { Projector } from '@ledger/projections';
import { EVENT_STORE, type EventStore } from '@ledger/event-store';
import { LEDGER_CONFIG, PG_POOL, PROJECTOR } from '../infrastructure/tokens.js';
import type { LedgerConfig } from '../config/ledger-config.js';
import { ProjectionProgress } from './projection-progress.js';

/**
 * The read side: read-your-writes waiting, and, in the embedded default
 * (`LEDGER_PROJECTOR=inline`), the projector itself in this process.
 */
@Global()
@Module({
  providers: [
    {
      provide: PROJECTOR,
      inject: [LEDGER_CONFIG, PG_POOL, EVENT_STORE, PinoLogger],
      useFactory: (config: LedgerConfig, pool: pg.Pool, store: EventStore, log: PinoLogger) =>
        config.projector === 'inline'
          ? new Projector({ pool, connectionString: config.databaseUrl!, store, log: log.logger })
          : undefined,
    },
    {
      provide: ProjectionProgress,
      inject: [LEDGER_CONFIG, PG_POOL],
      useFactory: (config: LedgerConfig, pool: pg.Pool) => new ProjectionProgress(pool, config.databaseUrl!),
    },
  ],
  exports: [PROJECTOR, ProjectionProgress],
})
export class ProjectionsModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(PROJECTOR) private readonly projector: Projector | undefined,
    private readonly progress: ProjectionProgress,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.projector?.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.projector?.stop();
    await this.progress.close();
  }
}
