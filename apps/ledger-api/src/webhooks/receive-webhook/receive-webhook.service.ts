import { Inject, Injectable } from '@nestjs/common';
import type { ProviderReportReply } from '@ledger/domain';
import { CLOCK, type Clock } from '../../commands/clock.js';
import { CommandExecutor, type CommandResult } from '../../commands/command-executor.js';
import type { Answer, CommandContext } from '../../commands/idempotency.js';
import { ledgerMetrics } from '../../metrics/metrics.js';
import { TaskProjects } from '../task-projects.js';
import { UnmatchedWebhooks } from '../unmatched-webhooks.js';
import { applyProviderReport } from './receive-webhook.handler.js';
import { assetsOf, type WebhookDeliveryDto } from './receive-webhook.dto.js';

/** A delivery whose signature was verified; `rawBody` is kept (not logged) in case its task is unknown. */
export interface VerifiedDelivery {
  context: CommandContext;
  provider: string;
  delivery: WebhookDeliveryDto;
  rawBody: Buffer;
}

/** No project has the task (yet): the delivery is kept, and the provider may stop retrying. */
export interface Unmatched {
  matched: false;
}

/**
 * A verified delivery: its task's project gets the provider's report through the
 * command executor, under the caller `webhook:<provider>` and the delivery's key,
 * so the same delivery again replays the first answer and appends nothing. A task
 * no project has is kept, with its request hash: the early-deliveries reactor applies
 * it under that same key when a project with the task starts, so the provider's
 * repeats after that replay the reactor's answer.
 */
@Injectable()
export class ReceiveWebhook {
  private readonly keptListeners = new Set<(taskId: string) => void>();

  constructor(
    private readonly commands: CommandExecutor,
    private readonly tasks: TaskProjects,
    private readonly unmatched: UnmatchedWebhooks,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** `answerOf`: the answer an applied report gives, recorded for the delivery's repeats. */
  async receive(
    { context, provider, delivery, rawBody }: VerifiedDelivery,
    answerOf: (reply: ProviderReportReply) => Answer,
  ): Promise<CommandResult<ProviderReportReply> | Unmatched> {
    const projectId = await this.tasks.projectOf(delivery.taskId);
    if (projectId === undefined) {
      const isNew = await this.unmatched.record({
        provider,
        taskId: delivery.taskId,
        deliveryKey: context.idempotencyKey,
        requestHash: context.requestHash,
        rawBody,
        receivedAt: this.clock.now(),
      });
      if (isNew) ledgerMetrics.providerDeliveries.inc({ outcome: 'kept' });
      for (const listener of this.keptListeners) listener(delivery.taskId);
      return { matched: false };
    }
    return this.apply(projectId, { context, provider, delivery }, answerOf);
  }

  /**
   * The report applied to `projectId` through the command path; a kept delivery of the
   * same key is marked applied (once the executor answered, whatever it answered: a
   * delivery answered 503 stays kept until it is).
   */
  async apply(
    projectId: string,
    { context, provider, delivery }: Omit<VerifiedDelivery, 'rawBody'>,
    answerOf: (reply: ProviderReportReply) => Answer,
  ): Promise<CommandResult<ProviderReportReply>> {
    const command = {
      type: 'ApplyProviderReport',
      projectId,
      outcome: delivery.status,
      assets: assetsOf(delivery),
      errorMessage: delivery.error,
    } as const;
    const result = await this.commands.execute(context, applyProviderReport, command, answerOf);
    const application = { projectId, answerStatus: result.answer.status, position: result.position };
    await this.markApplied(provider, context.idempotencyKey, application);
    return result;
  }

  /** Counted once across replicas: only the update that changes the row counts. */
  async markApplied(
    provider: string,
    deliveryKey: string,
    application: Parameters<UnmatchedWebhooks['markApplied']>[2],
  ): Promise<void> {
    if (await this.unmatched.markApplied(provider, deliveryKey, application, this.clock.now())) {
      ledgerMetrics.providerDeliveries.inc({ outcome: 'applied' });
    }
  }

  /** Called with the task of every delivery kept, after it is stored; returns the unsubscribe. */
  onKept(listener: (taskId: string) => void): () => void {
    this.keptListeners.add(listener);
    return () => this.keptListeners.delete(listener);
  }
}
