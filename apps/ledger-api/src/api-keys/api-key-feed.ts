import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import type pg from 'pg';
import { EVENT_STORE, type EventStore, type StoredEvent, type Subscription } from '@ledger/event-store';
import { API_KEYS, PG_POOL } from '../infrastructure/tokens.js';
import type { ApiKeyRegistry, KeyEvent } from '../auth/api-keys.js';
import { apiKeyRegistryTable } from './api-key-registry.table.js';

const RESUBSCRIBE_DELAY_MS_MIN = 100;
const RESUBSCRIBE_DELAY_MS_MAX = 5_000;
// How long a key command waits for this replica to see its own event before answering anyway.
export const OWN_EVENT_WAIT_MS_MAX = 2_000;
// A snapshot at least every this many events of the log, so a start reads at most about this many.
const SNAPSHOT_EVERY_EVENTS = 10_000;
const WAKE_MS_MAX = 1_000;

/**
 * Keeps this replica's key registry current: it starts from the saved snapshot of the
 * registry, then follows the log (the store's live subscription, woken by the append
 * NOTIFY of any replica), applying every key event. The start waits until the log up
 * to the head at start is applied, so a key created before a restart works from the
 * first request. The snapshot is saved again after each key event and every
 * SNAPSHOT_EVERY_EVENTS events; it is only a shortcut, so a failed save is logged and left.
 */
@Injectable()
export class ApiKeyFeed implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ApiKeyFeed');
  private subscription: Subscription | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private applied = 0n;
  private readonly waiters = new Set<() => void>();
  private saved = 0n;
  private saving: Promise<void> | undefined;
  private saveAgain = false;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(API_KEYS) private readonly registry: ApiKeyRegistry,
    @Inject(PG_POOL) private readonly pool: pg.Pool,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const snapshot = await apiKeyRegistryTable.load(this.pool);
    if (snapshot) {
      for (const event of snapshot.events) this.registry.apply(event);
      this.applied = this.saved = snapshot.position;
    }
    const head = await this.store.headPosition();
    this.running = this.follow();
    await this.waitFor(head);
    if (this.applied > this.saved) this.save();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.subscription?.close();
    this.waiters.forEach((wake) => wake());
    await this.running;
    await this.saving;
  }

  /** Resolves once the registry has applied the log up to `position`, or after `timeoutMs` (false). */
  async waitFor(position: bigint, timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.applied < position && !this.stopped) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(remainingMs, WAKE_MS_MAX));
        this.waiters.add(done);
      });
    }
    return this.applied >= position;
  }

  private async follow(): Promise<void> {
    let delayMs = RESUBSCRIBE_DELAY_MS_MIN;
    while (!this.stopped) {
      this.subscription = this.store.subscribeToAll({ afterPosition: this.applied });
      try {
        for await (const event of this.subscription) {
          const isKeyEvent = this.registry.apply(keyEventOf(event));
          this.applied = event.position;
          delayMs = RESUBSCRIBE_DELAY_MS_MIN;
          this.waiters.forEach((wake) => wake());
          if (isKeyEvent || this.applied - this.saved >= SNAPSHOT_EVERY_EVENTS) this.save();
        }
      } catch (error) {
        if (this.stopped) return;
        this.logger.warn({ msg: 'the key feed lost the log; following again', err: error });
        await delay(delayMs);
        delayMs = Math.min(RESUBSCRIBE_DELAY_MS_MAX, delayMs * 2);
      }
    }
  }

  /** One save at a time; asked again while one runs, it runs once more after it, with what is applied then. */
  private save(): void {
    if (this.saving) {
      this.saveAgain = true;
      return;
    }
    const position = this.applied;
    this.saving = apiKeyRegistryTable
      .save(this.pool, position, this.registry.keyEvents())
      .then(() => {
        this.saved = position;
      })
      .catch((error: unknown) => this.logger.warn({ msg: 'the key registry snapshot was not saved', err: error }))
      .finally(() => {
        this.saving = undefined;
        if (this.saveAgain && !this.stopped) {
          this.saveAgain = false;
          this.save();
        }
      });
  }
}

function keyEventOf(event: StoredEvent): KeyEvent {
  const at = event.metadata.at === undefined ? event.createdAt : new Date(event.metadata.at);
  return { streamName: event.streamName, type: event.type, data: event.data, position: event.position, at };
}
