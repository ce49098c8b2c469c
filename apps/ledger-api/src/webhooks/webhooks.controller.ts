import { createHash } from 'node:crypto';
import { Body, Controller, Get, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/public.decorator.js';
import { RequireScope } from '../auth/scopes.decorator.js';
import { requestHash, type CommandContext } from '../commands/idempotency.js';
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
    'Verified provider deliveries whose task no project had, newest first',
    'page of `{id, provider, taskId, body, deliveries, receivedAt, lastReceivedAt}`: `{items, nextCursor}`',
    [],
    'UnmatchedDeliveryPage',
  )
  unmatched(@Query() query: ListUnmatchedQueryDto) {
    return this.queries.execute(new ListUnmatchedQuery(pageRequestOf(query)));
  }

  @Post(':provider')
  @Public()
  @UseGuards(WebhookSignatureGuard)
  @ApiOperation({
    summary: "A provider reports its task: the task's project completes (or gets its assets) or fails",
    description:
      'No API key: the signature is the credential. The same delivery again answers as the first time and appends nothing.',
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
    description: 'no project has the task (yet): kept, listed at /v1/webhooks/unmatched',
    schema: responseSchema('UnmatchedDeliveryKept'),
  })
  @ErrorResponses([400, 401, 409, 503], {
    400: 'validation_failed',
    401: 'unauthenticated: unknown provider, or a missing, wrong or expired signature',
    409: 'invalid_transition: the report contradicts how the project ended',
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

/**
 * The delivery as a command's caller and key: the provider's delivery id, else the
 * SHA-256 of the raw body, so the provider's retry of a delivery is its repeat.
 */
function webhookContext(
  request: WebhookRequest,
  provider: string,
  delivery: WebhookDeliveryDto,
  rawBody: Buffer,
): CommandContext {
  const path = request.url.split('?')[0] ?? request.url;
  return {
    caller: `webhook:${provider}`,
    idempotencyKey: delivery.deliveryId ?? createHash('sha256').update(rawBody).digest('hex'),
    requestHash: requestHash('POST', path, request.body),
    correlationId: String(request.id),
    requestId: String(request.id),
  };
}
