import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type pg from 'pg';
import { EVENT_STORE, type EventStore } from '@ledger/event-store';
import { CLOCK, type Clock } from '../commands/clock.js';
import type { LedgerConfig } from '../config/ledger-config.js';
import { LEDGER_CONFIG, PG_POOL } from '../infrastructure/tokens.js';
import { OutboundDispatcher } from './dispatcher.js';
import { outboundMetrics, setOutboundGaugeSource } from './outbound.metrics.js';
import { outboundTables } from './outbound.tables.js';
import { OutboundSender } from './sender.js';

export interface OutboundStatus {
  dispatcher: 'active' | 'standby';
  checkpoint: number;
  lagEvents: number;
  pendingDeliveries: number;
  oldestPendingAgeSeconds: number;
}

/** Runs this replica's dispatcher (active or standing by) and sender, and reports on both. */
@Injectable()
export class OutboundService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly dispatcher: OutboundDispatcher;
  readonly sender: OutboundSender;

  constructor(
    @Inject(LEDGER_CONFIG) config: LedgerConfig,
    @Inject(PG_POOL) private readonly pool: pg.Pool,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) clock: Clock,
    log: PinoLogger,
  ) {
    const logger = {
      info: (object: object, message: string) => log.logger.info(object, message),
      warn: (object: object, message: string) => log.logger.warn(object, message),
    };
    this.sender = new OutboundSender(pool, config.outbound, {
      onOutcome: (outcome) => {
        outboundMetrics.attempts.inc();
        outboundMetrics.deliveries.inc({ outcome });
      },
      warn: logger.warn,
    });
    this.dispatcher = new OutboundDispatcher({
      pool,
      connectionString: config.databaseUrl!,
      store,
      config: config.outbound,
      log: logger,
      now: () => clock.now(),
      onDeliveries: () => this.sender.wake(),
    });
  }

  onApplicationBootstrap(): void {
    this.sender.start();
    this.dispatcher.start();
    setOutboundGaugeSource({
      lagEvents: () => this.lagEvents(),
      pending: () => outboundTables.pendingSummary(this.pool),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    setOutboundGaugeSource(undefined);
    await this.dispatcher.stop();
    await this.sender.stop();
  }

  /**
   * The dispatcher's position (whichever replica is active): its committed checkpoint, or
   * where this replica's fold is when it is ahead (a checkpoint written late: its events owed nothing).
   */
  private async dispatched(): Promise<bigint> {
    const committed = await outboundTables.checkpoint(this.pool);
    const folded = this.dispatcher.position;
    return folded > committed ? folded : committed;
  }

  /** The log's head minus the dispatcher's position. */
  async lagEvents(): Promise<number> {
    const [head, checkpoint] = await Promise.all([this.store.headPosition(), this.dispatched()]);
    return Number(head > checkpoint ? head - checkpoint : 0n);
  }

  /** Resolves once the dispatcher (on any replica) has taken in `position`, or after `timeoutMs` (false). */
  async waitFor(position: bigint, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (let waitMs = 5; ; waitMs = Math.min(100, waitMs * 2)) {
      if ((await this.dispatched()) >= position) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }

  async status(): Promise<OutboundStatus> {
    const [checkpoint, lagEvents, pending] = await Promise.all([
      this.dispatched(),
      this.lagEvents(),
      outboundTables.pendingSummary(this.pool),
    ]);
    return {
      dispatcher: this.dispatcher.active ? 'active' : 'standby',
      checkpoint: Number(checkpoint),
      lagEvents,
      pendingDeliveries: pending.pending,
      oldestPendingAgeSeconds: pending.oldestAgeSeconds,
    };
  }
}
