import { Command } from '@nestjs/cqrs';
import type { CommandContext, CommandResponse } from '../../commands/idempotency.js';
import type { WebhookDeliveryDto } from './receive-webhook.dto.js';

/** A delivery whose signature was verified; `rawBody` is kept (not logged) in case its task is unknown. */
export class ReceiveWebhookCommand extends Command<CommandResponse | UnmatchedResponse> {
  constructor(
    readonly context: CommandContext,
    readonly provider: string,
    readonly delivery: WebhookDeliveryDto,
    readonly rawBody: Buffer,
  ) {
    super();
  }
}

/** 202: no project has the task (yet); the delivery is kept, and the provider may stop retrying. */
export interface UnmatchedResponse {
  status: 202;
  body: { provider: string; taskId: string; matched: false };
}
