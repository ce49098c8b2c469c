import { Body, Controller, Get, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/public.decorator.js';
import { RequireScope } from '../auth/scopes.decorator.js';
import { ok, send } from '../http/answers.js';
import { createValidationPipe } from '../http/validation.js';
import { QueryDocs } from '../queries/query-docs.decorator.js';
import { ErrorResponses } from '../http/error-responses.decorator.js';
import { responseSchema } from '../http/response-schemas.js';
import { pageRequestOf } from '../queries/read-query.dto.js';
import { ListUnmatchedQueryDto } from './list-unmatched/list-unmatched.dto.js';
import { ListUnmatchedQuery } from './list-unmatched/list-unmatched.query.js';
import { WebhookDeliveryDto } from './receive-webhook/receive-webhook.dto.js';
import { ReceiveWebhook } from './receive-webhook/receive-webhook.service.js';
import { SIGNATURE_TOLERANCE_SECONDS } from './webhook-signature.js';
import { webhookContext } from './webhook-context.js';
import { WebhookSignatureGuard, type WebhookRequest } from './webhook-signature.guard.js';

@ApiTags('webhooks')
@Controller('v1/webhooks')
export class WebhooksController {
  // The global pipe refuses unknown fields; a delivery's are ignored (see the DTO), so its body is checked here.
  private readonly deliveries = createValidationPipe({ unknownFields: 'ignore' });

  constructor(
    private readonly receiver: ReceiveWebhook,
    private readonly queries: QueryBus,
  ) {}

  @Get('unmatched')
  @RequireScope('audit')
  @QueryDocs(
    'Verified provider deliveries whose task no project had, newest first: those not applied (kept, expired), or those of `?status=`',
    'page of `{id, provider, taskId, body, deliveries, receivedAt, lastReceivedAt, status, projectId, appliedStatus, position, appliedAt, expiredAt}`: `{items, nextCursor}`',
    [],
    'UnmatchedDeliveryPage',
  )
  unmatched(@Query() query: ListUnmatchedQueryDto) {
    return this.queries.execute(new ListUnmatchedQuery(pageRequestOf(query), query.status));
  }

  @Post(':provider')
  @Public()
  @UseGuards(WebhookSignatureGuard)
  @ApiOperation({
    summary: "A provider reports its task: the task's project completes (or gets its assets) or fails",
    description:
      'No API key: the signature is the credential. The provider is the worker of record: `succeeded` completes a pending or processing project (a pending one as attempt 0, the whole cost used), or attaches the assets to a completed one; `failed` fails a pending or processing project with the refund. The same delivery again answers as the first time and appends nothing.',
  })
  @ApiHeader({
    name: 'X-Signature',
    required: true,
    description: `\`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">\` with a secret of the provider; t within ${SIGNATURE_TOLERANCE_SECONDS} s of the service clock`,
  })
  @ApiBody({ type: WebhookDeliveryDto })
  @ApiResponse({
    status: 200,
    description: '`{projectId, status, refunded, assets, position}`',
    schema: responseSchema('ProviderReportAnswer'),
  })
  @ApiResponse({
    status: 202,
    description:
      "no project has the task (yet): kept, listed at /v1/webhooks/unmatched, and applied once (through the command path, under this delivery's key) when a project with the task starts; expired, never applied, after LEDGER_WEBHOOK_UNMATCHED_DAYS",
    schema: responseSchema('UnmatchedDeliveryKept'),
  })
  @ErrorResponses([400, 401, 409, 503], {
    400: 'validation_failed',
    401: 'unauthenticated: unknown provider, or a missing, wrong or expired signature',
    409: 'invalid_transition: the report contradicts how the project ended | request_in_flight: the same delivery is being applied on another replica (with Retry-After; deliver it again)',
    503: 'unavailable, with Retry-After',
  })
  async receive(
    @Param('provider') provider: string,
    @Body() body: unknown,
    @Req() request: WebhookRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const delivery = (await this.deliveries.transform(body, {
      type: 'body',
      metatype: WebhookDeliveryDto,
    })) as WebhookDeliveryDto;
    const rawBody = request.rawBody ?? Buffer.alloc(0);
    const context = webhookContext(request, provider, delivery, rawBody);
    const result = await this.receiver.receive({ context, provider, delivery, rawBody }, ok);
    if ('matched' in result) {
      // Kept and listed, with no answer recorded: a re-delivery applies once the project exists.
      void reply.status(202);
      return { provider, taskId: delivery.taskId, matched: false };
    }
    return send(reply, result);
  }
}
