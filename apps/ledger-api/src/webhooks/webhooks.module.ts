import { Module } from '@nestjs/common';
import type pg from 'pg';
import { PG_POOL } from '../infrastructure/tokens.js';
import { ReadModel } from '../queries/read-model.js';
import { EarlyDeliveries } from './early-deliveries/early-deliveries.reactor.js';
import { ListUnmatchedHandler } from './list-unmatched/list-unmatched.handler.js';
import { ReceiveWebhook } from './receive-webhook/receive-webhook.service.js';
import { TaskProjects } from './task-projects.js';
import { UnmatchedWebhooks } from './unmatched-webhooks.js';
import { WebhookSignatureGuard } from './webhook-signature.guard.js';
import { WebhooksController } from './webhooks.controller.js';

/** Provider webhooks: signed deliveries that complete or fail their task's project, and those kept until it starts. */
@Module({
  controllers: [WebhooksController],
  providers: [
    ReadModel,
    TaskProjects,
    { provide: UnmatchedWebhooks, inject: [PG_POOL], useFactory: (pool: pg.Pool) => new UnmatchedWebhooks(pool) },
    WebhookSignatureGuard,
    ReceiveWebhook,
    ListUnmatchedHandler,
    EarlyDeliveries,
  ],
})
export class WebhooksModule {}
