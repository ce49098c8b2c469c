import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import { EVENT_STORE, type EventStore, type Subscription } from '@ledger/event-store';
import { API_KEYS } from '../infrastructure/tokens.js';
import type { ApiKeyRegistry } from '../auth/api-keys.js';

const RESUBSCRIBE_DELAY_MS_MIN = 100;
const RESUBSCRIBE_DELAY_MS_MAX = 5_000;
// How long a key command waits for this replica to see its own event before answering anyway.
export const OWN_EVENT_WAIT_MS_MAX = 2_000;

/**
 * Keeps this replica's key registry current: it follows the log (the store's live
 * subscription, woken by the append NOTIFY of any replica), applying every key event.
 * The start waits until the log up to the head at start is applied, so a key created
 * before a restart works from the first request.
 */
@Injectable()
export class ApiKeyFeed implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ApiKeyFeed');
  private subscription: Subscription | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private applied = 0n;
  private readonly waiters = new Set<() => void>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(API_KEYS) private readonly registry: ApiKeyRegistry,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const head = await this.store.headPosition();
    this.running = this.follow();
    await this.waitFor(head);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.subscription?.close();
    this.waiters.forEach((wake) => wake());
    await this.running;
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
        const timer = setTimeout(done, Math.min(remainingMs, 1_000));
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
          this.registry.apply(event);
          this.applied = event.position;
          delayMs = RESUBSCRIBE_DELAY_MS_MIN;
          this.waiters.forEach((wake) => wake());
        }
      } catch (error) {
        if (this.stopped) return;
        this.logger.warn({ msg: 'the key feed lost the log; following again', err: error });
        await delay(delayMs);
        delayMs = Math.min(RESUBSCRIBE_DELAY_MS_MAX, delayMs * 2);
      }
    }
  }
}
