import { setTimeout as delay } from 'node:timers/promises';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { RuleViolation, projectIdOf } from '@ledger/domain';
import { EVENT_STORE, type EventStore, type StoredEvent, type Subscription } from '@ledger/event-store';
import { batched, projectsTable } from '@ledger/projections';
import { CLOCK, type Clock } from '../../commands/clock.js';
import type { LedgerConfig } from '../../config/ledger-config.js';
import { RecordedRefusal } from '../../commands/refusals.js';
import { ApiError } from '../../errors/api-error.js';
import { ApiExceptionFilter } from '../../errors/api-exception.filter.js';
import { ok } from '../../http/answers.js';
import { LEDGER_CONFIG } from '../../infrastructure/tokens.js';
import { countHeldDeliveriesWith, ledgerMetrics } from '../../metrics/metrics.js';
import { WAIT_MS_DEFAULT } from '../../projections/projection-progress.js';
import { ReadModel } from '../../queries/read-model.js';
import { ReceiveWebhook } from '../receive-webhook/receive-webhook.service.js';
import { TaskProjects } from '../task-projects.js';
import { UnmatchedWebhooks, type KeptDelivery } from '../unmatched-webhooks.js';
import { keptDeliveryCommand } from './kept-delivery.js';

const DAY_MS = 24 * 60 * 60 * 1000;
// A full pass over every kept delivery (and the expiry) this often, and at start: what a
// missed start (a lost subscription, a refused or failed application) waits for at most.
const FULL_PASS_INTERVAL_MS = 60_000;
// A pass that failed (the read model behind at start, an outage) is tried again sooner, backing off.
const FULL_PASS_RETRY_MS_MIN = 1_000;
const PAGE_SIZE = 500;
const RESUBSCRIBE_DELAY_MS_MIN = 100;
const RESUBSCRIBE_DELAY_MS_MAX = 5_000;

/** What one pass did, for tests and logs. */
export interface PassResult {
  applied: number;
  expired: number;
  errors: number;
}

/**
 * Applies a kept delivery (its task had no project yet) when a project with its task starts,
 * through the command path under the delivery's own idempotency key and request hash: as if
 * the provider had delivered it again, so it is applied once, whichever replicas try, and the
 * provider's repeats replay its answer. The kept rows are the durable to-do list, so the
 * reactor keeps no checkpoint of its own: every replica follows the log from its start's head
 * and, for each `ProjectStarted` naming a task, applies that task's kept deliveries to the
 * project; at start (and every minute) a full pass looks up the project of
 * every kept delivery in the projects read model (caught up to that head), which covers
 * anything that started while no replica was following. A delivery kept after the reactor
 * saw its start is covered by the receiver: it looks the task up again once the read model
 * reached the head after the delivery was stored.
 */
@Injectable()
export class EarlyDeliveries implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly abort = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly refusalAnswer = new ApiExceptionFilter();
  private subscription: Subscription | undefined;
  private unsubscribe: (() => void)[] = [];
  private running: Promise<void> | undefined;
  private passing: Promise<unknown> = Promise.resolve();

  constructor(
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly receiver: ReceiveWebhook,
    private readonly unmatched: UnmatchedWebhooks,
    private readonly tasks: TaskProjects,
    private readonly readModel: ReadModel,
    private readonly log: PinoLogger,
  ) {}

  onApplicationBootstrap(): void {
    this.unsubscribe = [
      this.receiver.onKept((taskId) => this.track(this.recheck(taskId))),
      countHeldDeliveriesWith(() => this.unmatched.counts()),
    ];
    this.running = this.run(this.abort.signal);
  }

  async onApplicationShutdown(): Promise<void> {
    this.abort.abort();
    this.unsubscribe.forEach((unsubscribe) => unsubscribe());
    await this.subscription?.close();
    await this.running;
    await Promise.allSettled([...this.inFlight, this.passing]);
  }

  /** A full pass now, after any in progress: expiry, then every kept delivery whose task has a project. */
  fullPass(): Promise<PassResult> {
    const next = this.passing.then(() => this.fullPassOnce());
    this.passing = next.catch(() => undefined);
    return next;
  }

  private async run(signal: AbortSignal): Promise<void> {
    let after: bigint;
    try {
      after = await this.store.headPosition();
    } catch (error) {
      this.log.logger.warn({ err: error }, 'early deliveries: cannot read the head; following from zero');
      after = 0n;
    }
    const following = this.follow(after, signal);
    let retryMs = FULL_PASS_RETRY_MS_MIN;
    while (!signal.aborted) {
      // Each pass waits (bounded) for the read model to reach the head, which the log is followed from.
      const passed = await this.fullPass().then(
        () => true,
        (error: unknown) => {
          this.log.logger.warn({ err: error }, 'early deliveries: the full pass failed; trying again');
          return false;
        },
      );
      retryMs = passed ? FULL_PASS_RETRY_MS_MIN : Math.min(FULL_PASS_INTERVAL_MS, retryMs * 2);
      await delay(passed ? FULL_PASS_INTERVAL_MS : retryMs, undefined, { signal }).catch(() => undefined);
    }
    await following;
  }

  private async follow(from: bigint, signal: AbortSignal): Promise<void> {
    let after = from;
    let delayMs = RESUBSCRIBE_DELAY_MS_MIN;
    while (!signal.aborted) {
      this.subscription = this.store.subscribeToAll({ afterPosition: after });
      try {
        // What arrived together is looked up together: one query for a batch's starts, not one a start.
        for await (const batch of batched(this.subscription, PAGE_SIZE)) {
          const started = batch.flatMap((event) => startedWithTask(event) ?? []);
          if (started.length > 0) await this.applyToStarted(started);
          after = batch[batch.length - 1]!.position;
          delayMs = RESUBSCRIBE_DELAY_MS_MIN;
        }
      } catch (error) {
        if (signal.aborted) return;
        this.log.logger.warn({ err: error }, 'early deliveries: lost the log; following again');
        await delay(delayMs, undefined, { signal }).catch(() => undefined);
        delayMs = Math.min(RESUBSCRIBE_DELAY_MS_MAX, delayMs * 2);
      }
    }
  }

  /**
   * The kept deliveries of these starts' tasks (in log order), read in one query, each
   * start's applied in the order kept; one at a time, and what fails is left to the next
   * full pass, as `applyTo`. A task started twice in the batch is looked up again for
   * the later start (the first may have applied what was kept).
   */
  private async applyToStarted(started: readonly { projectId: string; taskId: string }[]): Promise<void> {
    let kept: KeptDelivery[];
    try {
      const notBefore = new Date(this.clock.now().getTime() - this.config.webhookUnmatchedDays * DAY_MS);
      kept = await this.unmatched.keptForTasks([...new Set(started.map((s) => s.taskId))], notBefore);
    } catch (error) {
      this.log.logger.warn({ err: error }, 'early deliveries: cannot read the kept deliveries');
      return;
    }
    const seen = new Set<string>();
    for (const { projectId, taskId } of started) {
      if (seen.has(taskId)) {
        await this.applyTo(projectId, [taskId]);
        continue;
      }
      seen.add(taskId);
      for (const delivery of kept) {
        if (delivery.taskId === taskId && (await this.applyOne(projectId, delivery)) === 'error') break;
      }
    }
  }

  /**
   * A delivery was just kept: its project may have started before it was stored, after the
   * log follower looked for it. The lookup waits for the read model to reach the head after
   * the store, so such a start is seen here.
   */
  private async recheck(taskId: string): Promise<void> {
    try {
      const projectId = await this.tasks.projectOf(taskId);
      if (projectId !== undefined) await this.applyTo(projectId, [taskId]);
    } catch (error) {
      this.log.logger.warn({ err: error, taskId }, 'early deliveries: cannot look the task up again');
    }
  }

  private async fullPassOnce(): Promise<PassResult> {
    const now = this.clock.now();
    const notBefore = new Date(now.getTime() - this.config.webhookUnmatchedDays * DAY_MS);
    const result: PassResult = { applied: 0, expired: await this.unmatched.expire(notBefore, now), errors: 0 };
    if (result.expired > 0) {
      ledgerMetrics.providerDeliveries.inc({ outcome: 'expired' }, result.expired);
      this.log.logger.info({ expired: result.expired }, 'early deliveries: marked expired');
    }
    const head = await this.store.headPosition();
    // Projects whose kept deliveries stopped at an error this pass (they are applied in the order kept).
    const stopped = new Set<string>();
    for (let afterId = '0'; !this.abort.signal.aborted;) {
      const page = await this.unmatched.keptAfter(afterId, notBefore, PAGE_SIZE);
      if (page.length === 0) break;
      afterId = page.at(-1)!.id;
      const tasks = [...new Set(page.map((delivery) => delivery.taskId))];
      const projects = await this.readModel.read({ minPosition: head, waitMs: WAIT_MS_DEFAULT }, (db) =>
        projectsTable.byExternalTasks(db, tasks),
      );
      for (const delivery of page) {
        const projectId = projects.get(delivery.taskId);
        // After a project's first error its later deliveries wait for the next pass, in order.
        if (projectId === undefined || stopped.has(projectId)) continue;
        const outcome = await this.applyOne(projectId, delivery);
        if (outcome === 'applied') result.applied++;
        if (outcome === 'error') {
          result.errors++;
          stopped.add(projectId);
        }
      }
    }
    return result;
  }

  /**
   * The kept deliveries of these tasks, applied to `projectId` in the order they were kept.
   * The first that fails stops it (a later `succeeded` must not end the project before an
   * earlier `failed`): it and the rest are left to the next full pass.
   */
  private async applyTo(projectId: string, taskIds: readonly string[]): Promise<void> {
    try {
      const notBefore = new Date(this.clock.now().getTime() - this.config.webhookUnmatchedDays * DAY_MS);
      for (const delivery of await this.unmatched.keptForTasks(taskIds, notBefore)) {
        if ((await this.applyOne(projectId, delivery)) === 'error') return;
      }
    } catch (error) {
      this.log.logger.warn({ err: error, projectId }, 'early deliveries: cannot read the kept deliveries');
    }
  }

  /** One kept delivery through the command path; a final refusal is its answer (kept, like any). */
  private async applyOne(projectId: string, kept: KeptDelivery): Promise<'applied' | 'refused' | 'error'> {
    try {
      const { context, delivery } = await keptDeliveryCommand(kept);
      const result = await this.receiver.apply(projectId, { context, provider: kept.provider, delivery }, ok);
      this.log.logger.info(
        { provider: kept.provider, taskId: kept.taskId, projectId, position: Number(result.position) },
        'early deliveries: applied a kept delivery',
      );
      return 'applied';
    } catch (error) {
      if (isFinalRefusal(error)) {
        const answer = this.refusalAnswer.toResponse(error);
        const application = { projectId, answerStatus: answer.status, position: null };
        await this.receiver.markApplied(kept.provider, kept.deliveryKey, application);
        return 'refused';
      }
      this.log.logger.warn({ err: error, projectId, kept: kept.id }, 'early deliveries: cannot apply yet');
      return 'error';
    }
  }

  private track(work: Promise<unknown>): void {
    this.inFlight.add(work);
    void work.catch(() => undefined).finally(() => this.inFlight.delete(work));
  }
}

/**
 * A refusal that is the delivery's answer for good: the domain's (kept under its key, and
 * so replayed as a RecordedRefusal), or a request that can never pass (a body the rules no
 * longer accept, its key taken by another request). A conflict that outlasted the retries,
 * or an outage, is tried again by the next pass.
 */
function isFinalRefusal(error: unknown): boolean {
  if (error instanceof RuleViolation || error instanceof RecordedRefusal) return true;
  return error instanceof ApiError && FINAL_STATUSES.has(error.status);
}
const FINAL_STATUSES = new Set([400, 404, 422]);

/** The project and task of a `ProjectStarted` naming one. */
function startedWithTask(event: StoredEvent): { projectId: string; taskId: string } | undefined {
  if (event.type !== 'ProjectStarted') return undefined;
  const taskId = event.data.externalTaskId;
  if (typeof taskId !== 'string') return undefined;
  const projectId = projectIdOf(event.streamName);
  return projectId === undefined ? undefined : { projectId, taskId };
}
