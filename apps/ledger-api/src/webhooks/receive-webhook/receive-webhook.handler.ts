import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { decideProviderReport, isRuleViolation, projectStream, type ProjectState } from '@ledger/domain';
import { CLOCK, type Clock } from '../../commands/clock.js';
import { CommandExecutor } from '../../commands/command-executor.js';
import type { CommandResponse } from '../../commands/idempotency.js';
import { ApiError } from '../../errors/api-error.js';
import { projectDecided } from '../../projects/project-decided.js';
import { TaskProjects } from '../task-projects.js';
import { UnmatchedWebhooks } from '../unmatched-webhooks.js';
import { ReceiveWebhookCommand, type UnmatchedResponse } from './receive-webhook.command.js';
import { assetsOf } from './receive-webhook.dto.js';

/**
 * A verified delivery: its task's project gets the provider's report through the
 * command executor, under the caller `webhook:<provider>` and the delivery's key,
 * so the same delivery again replays the first answer and appends nothing. A task
 * no project has is kept as unmatched and answered 202; once its project exists,
 * a re-delivery applies normally (an unmatched delivery records no answer).
 */
@CommandHandler(ReceiveWebhookCommand)
export class ReceiveWebhookHandler implements ICommandHandler<ReceiveWebhookCommand> {
  constructor(
    private readonly executor: CommandExecutor,
    private readonly tasks: TaskProjects,
    private readonly unmatched: UnmatchedWebhooks,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async execute(command: ReceiveWebhookCommand): Promise<CommandResponse | UnmatchedResponse> {
    const { context, provider, delivery, rawBody } = command;
    const projectId = await this.tasks.projectOf(delivery.taskId);
    if (projectId === undefined) {
      await this.unmatched.record({
        provider,
        taskId: delivery.taskId,
        deliveryKey: context.idempotencyKey,
        rawBody,
        receivedAt: this.clock.now(),
      });
      return { status: 202, body: { provider, taskId: delivery.taskId, matched: false } };
    }
    const response = await this.executor.execute(context, {
      serializeOn: projectStream(projectId),
      reads: [projectStream(projectId)],
      decide: async (loads, now) => {
        const project = await loads.project(projectId);
        const decide = () =>
          decideProviderReport(project, {
            type: 'ApplyProviderReport',
            projectId,
            outcome: delivery.status,
            assets: assetsOf(delivery),
            errorMessage: delivery.error,
            now,
          });
        return projectDecided(projectId, refusedForNow(project, decide), 200);
      },
    });
    // Only once applied: a delivery answered 409 or 503 stays listed until it is.
    await this.unmatched.markMatched(provider, context.idempotencyKey, this.clock.now());
    return response;
  }
}

/**
 * A success for a project no worker has claimed yet is refused for now, not for
 * good. The executor keeps a rule violation as the answer to its key, and the key
 * here is the delivery's: kept, it would refuse the provider's retries after the
 * claim too. As an ApiError it is answered (409) but not kept.
 */
function refusedForNow<T>(project: ProjectState, decide: () => T): T {
  try {
    return decide();
  } catch (error) {
    if (isRuleViolation(error) && error.code === 'invalid_transition' && project.status === 'pending') {
      throw new ApiError(409, error.code, `${error.message}; deliver again once a worker has claimed it`, {
        status: project.status,
      });
    }
    throw error;
  }
}
