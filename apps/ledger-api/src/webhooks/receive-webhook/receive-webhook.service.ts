import { Inject, Injectable } from '@nestjs/common';
import type { ProviderReportReply } from '@ledger/domain';
import { CLOCK, type Clock } from '../../commands/clock.js';
import { CommandExecutor, type CommandResult } from '../../commands/command-executor.js';
import type { Answer, CommandContext } from '../../commands/idempotency.js';
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
 * no project has is kept as unmatched; once its project exists, a re-delivery
 * applies normally (an unmatched delivery records no answer).
 */
@Injectable()
export class ReceiveWebhook {
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
      await this.unmatched.record({
        provider,
        taskId: delivery.taskId,
        deliveryKey: context.idempotencyKey,
        rawBody,
        receivedAt: this.clock.now(),
      });
      return { matched: false };
    }
    const command = {
      type: 'ApplyProviderReport',
      projectId,
      outcome: delivery.status,
      assets: assetsOf(delivery),
      errorMessage: delivery.error,
    } as const;
    const result = await this.commands.execute(context, applyProviderReport, command, answerOf);
    // Only once applied: a delivery answered 409 or 503 stays listed until it is.
    await this.unmatched.markMatched(provider, context.idempotencyKey, this.clock.now());
    return result;
  }
}
