import { randomBytes } from 'node:crypto';
import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type pg from 'pg';
import {
  RuleViolation,
  webhookEndpointStream,
  type AccountSettingsReply,
  type WebhookEndpointReply,
} from '@ledger/domain';
import { EVENT_STORE, READ_LIMIT_MAX, type EventStore } from '@ledger/event-store';
import { RequireScope } from '../auth/scopes.decorator.js';
import { CLOCK, type Clock } from '../commands/clock.js';
import { CommandExecutor, type CommandResult } from '../commands/command-executor.js';
import type { CommandContext } from '../commands/idempotency.js';
import type { LedgerConfig } from '../config/ledger-config.js';
import { ApiError } from '../errors/api-error.js';
import { created, ok, send } from '../http/answers.js';
import { CommandDocs } from '../http/command-docs.decorator.js';
import { IdPipe } from '../http/id.pipe.js';
import { IdempotentRequest } from '../http/idempotent-request.decorator.js';
import { LEDGER_CONFIG, PG_POOL } from '../infrastructure/tokens.js';
import { pageOf } from '../queries/page.js';
import { QueryDocs } from '../queries/query-docs.decorator.js';
import { PagingDto, pageRequestOf } from '../queries/read-query.dto.js';
import { ChangeAccountSettingsDto, changeAccountSettings } from './change-account-settings/change-account-settings.js';
import { DeliveriesQueryDto, DeliveryPage, deliveryView } from './list-deliveries/delivery.view.js';
import {
  AccountSettingsView,
  EndpointCreatedView,
  EndpointPage,
  EndpointStatusView,
  EndpointView,
  SecretRotatedView,
  endpointView,
} from './list-endpoints/endpoint.view.js';
import { outboundTables } from './outbound.tables.js';
import { OutboundService } from './outbound.service.js';
import { registerEndpoint, rotateSecret, setEndpointEnabled } from './register-endpoint/endpoint-commands.handler.js';
import { EmptyBodyDto, RegisterEndpointDto } from './register-endpoint/register-endpoint.dto.js';
import { checkEndpointUrl, UrlRefusedError } from './ssrf-guard.js';
import { newSigningSecret } from './signer.js';

// How long a command waits for the dispatcher to take in its event, so a list right after shows it.
const OWN_EVENT_WAIT_MS_MAX = 2_000;

@ApiTags('webhook-endpoints')
@Controller('v1/webhook-endpoints')
export class OutboundController {
  constructor(
    private readonly commands: CommandExecutor,
    private readonly outbound: OutboundService,
    @Inject(PG_POOL) private readonly pool: pg.Pool,
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Post()
  @RequireScope('admin')
  @CommandDocs(
    'Register an endpoint; its URL must be http(s) to a public address. The secret is in this answer (and a repeat of its Idempotency-Key’s, while it still signs) only',
    201,
    [],
    EndpointCreatedView,
  )
  async register(
    @IdempotentRequest() context: CommandContext,
    @Body() body: RegisterEndpointDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    await this.checkUrl(body.url);
    const endpointId = `we_${randomBytes(12).toString('base64url')}`;
    const secret = newSigningSecret();
    const secretId = `ws_${randomBytes(12).toString('base64url')}`;
    const result = await this.withSecret(endpointId, secretId, secret, () =>
      this.commands.execute(
        context,
        registerEndpoint,
        {
          type: 'RegisterWebhookEndpoint',
          endpointId,
          url: body.url,
          events: body.events,
          secretId,
          ...(body.description === undefined ? {} : { description: body.description }),
        },
        (r: WebhookEndpointReply) => created(r),
      ),
    );
    return this.answerWithSecret(context, reply, result, 'WebhookEndpointRegistered', secret);
  }

  @Get()
  @RequireScope('admin')
  @QueryDocs(
    'The endpoints, oldest first, never a secret',
    'page of endpoints: `{items, nextCursor}`',
    [],
    EndpointPage,
  )
  async list(@Query() query: PagingDto) {
    const page = pageRequestOf(query);
    const rows = (await outboundTables.endpoints(this.pool)).filter(
      (row) => page.after === undefined || BigInt(row.position) > page.after,
    );
    return pageOf(rows.slice(0, page.limit + 1), page, (row) => BigInt(row.position), endpointView);
  }

  @Get(':endpointId')
  @RequireScope('admin')
  @QueryDocs('One endpoint, never its secret', 'the endpoint', [404], EndpointView)
  async get(@Param('endpointId', IdPipe) endpointId: string) {
    return endpointView(await this.endpoint(endpointId));
  }

  @Post(':endpointId/rotate-secret')
  @HttpCode(200)
  @RequireScope('admin')
  @CommandDocs(
    'A new signing secret (a repeat of the key answers the same one while it signs); for 24 h the previous one signs too (both signatures sent)',
    200,
    [404],
    SecretRotatedView,
  )
  async rotate(
    @IdempotentRequest() context: CommandContext,
    @Param('endpointId', IdPipe) endpointId: string,
    @Body() _body: EmptyBodyDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const secret = newSigningSecret();
    const secretId = `ws_${randomBytes(12).toString('base64url')}`;
    const result = await this.withSecret(endpointId, secretId, secret, () =>
      this.commands.execute(
        context,
        rotateSecret,
        { type: 'RotateWebhookSecret', endpointId, secretId },
        (r: WebhookEndpointReply) => ok(r),
      ),
    );
    return this.answerWithSecret(context, reply, result, 'WebhookEndpointSecretRotated', secret);
  }

  @Post(':endpointId/disable')
  @HttpCode(200)
  @RequireScope('admin')
  @CommandDocs(
    'Stop deliveries: events from here on are not owed to it; pending ones wait',
    200,
    [404, 409],
    EndpointStatusView,
  )
  disable(
    @IdempotentRequest() context: CommandContext,
    @Param('endpointId', IdPipe) endpointId: string,
    @Body() _body: EmptyBodyDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.setEnabled(context, endpointId, false, reply);
  }

  @Post(':endpointId/enable')
  @HttpCode(200)
  @RequireScope('admin')
  @CommandDocs('Resume deliveries, for events from here on and those pending', 200, [404, 409], EndpointStatusView)
  enable(
    @IdempotentRequest() context: CommandContext,
    @Param('endpointId', IdPipe) endpointId: string,
    @Body() _body: EmptyBodyDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.setEnabled(context, endpointId, true, reply);
  }

  @Get(':endpointId/deliveries')
  @RequireScope('admin')
  @QueryDocs(
    'The deliveries owed to the endpoint, oldest first, each with its attempts',
    'page of deliveries',
    [404],
    DeliveryPage,
  )
  async deliveries(@Param('endpointId', IdPipe) endpointId: string, @Query() query: DeliveriesQueryDto) {
    await this.endpoint(endpointId);
    const page = pageRequestOf(query);
    const rows = await outboundTables.deliveries(this.pool, endpointId, {
      ...(query.status === undefined ? {} : { status: query.status }),
      ...(page.after === undefined ? {} : { afterId: String(page.after) }),
      limit: page.limit + 1,
    });
    const attempts = await outboundTables.attempts(
      this.pool,
      rows.map((r) => r.delivery_id),
    );
    return pageOf(
      rows,
      page,
      (row) => BigInt(row.delivery_id),
      (row) =>
        deliveryView(
          row,
          attempts.filter((a) => a.delivery_id === row.delivery_id),
        ),
    );
  }

  @Post(':endpointId/deliveries/:deliveryId/retry')
  @HttpCode(202)
  @RequireScope('admin')
  @CommandDocs(
    'Send the delivery again now, with the same webhook-id (one attempt if it had failed)',
    202,
    [404],
    'DeliveryRetryAccepted',
  )
  async retry(
    @Param('endpointId', IdPipe) endpointId: string,
    @Param('deliveryId') deliveryId: string,
    @Body() _body: EmptyBodyDto,
  ) {
    if (!/^\d{1,18}$/.test(deliveryId))
      throw new ApiError(404, 'not_found', `no delivery ${deliveryId}`, { deliveryId });
    const row = await outboundTables.retryNow(this.pool, endpointId, deliveryId);
    if (!row)
      throw new ApiError(404, 'not_found', `no delivery ${deliveryId} for ${endpointId}`, { endpointId, deliveryId });
    this.outbound.sender.wake();
    return { deliveryId, status: 'pending' };
  }

  /**
   * Runs a command that names a new secret. The secret is kept before the event that names
   * it (an append that fails leaves at worst an unused row, never an event without its
   * secret) and forgotten when the command did not name it: refused, or a repeat of its key.
   * An error of another kind keeps it (the append may have happened).
   */
  private async withSecret(
    endpointId: string,
    secretId: string,
    secret: string,
    execute: () => Promise<CommandResult<WebhookEndpointReply>>,
  ): Promise<CommandResult<WebhookEndpointReply>> {
    await outboundTables.saveSecret(this.pool, secretId, endpointId, secret);
    let result: CommandResult<WebhookEndpointReply>;
    try {
      result = await execute();
    } catch (error) {
      if (error instanceof RuleViolation || (error instanceof ApiError && error.status < 500)) {
        await outboundTables.forgetSecret(this.pool, secretId);
      }
      throw error;
    }
    if (result.replayed) await outboundTables.forgetSecret(this.pool, secretId);
    return result;
  }

  /**
   * The answer with its secret. A repeat of the key answers with the secret the first
   * answer held (the one its event names), while that secret still signs: the current one,
   * or the previous one within the rotation overlap. A superseded one is not answered
   * (`secret` absent): rotate for a new one.
   */
  private async answerWithSecret(
    context: CommandContext,
    reply: FastifyReply,
    result: CommandResult<WebhookEndpointReply>,
    type: 'WebhookEndpointRegistered' | 'WebhookEndpointSecretRotated',
    secret: string,
  ): Promise<Record<string, unknown>> {
    await this.outbound.waitFor(result.position, OWN_EVENT_WAIT_MS_MAX);
    const answer = send(reply, result);
    if (!result.replayed) return { ...answer, secret };
    const replayed = await this.replayedSecret(context, answer.endpointId as string, type);
    return replayed === undefined ? answer : { ...answer, secret: replayed };
  }

  private async replayedSecret(
    context: CommandContext,
    endpointId: string,
    type: 'WebhookEndpointRegistered' | 'WebhookEndpointSecretRotated',
  ): Promise<string | undefined> {
    const events = await this.store.readStream(webhookEndpointStream(endpointId), { limit: READ_LIMIT_MAX });
    // The command's event carries its caller and key in its metadata, as its record does.
    const at = events.findIndex(
      (e) =>
        e.type === type && e.metadata.caller === context.caller && e.metadata.idempotencyKey === context.idempotencyKey,
    );
    if (at < 0) return undefined;
    const named = (events[at]!.data as { secretId: string }).secretId;
    let current = named;
    let previous: string | undefined;
    let previousUntilMs = 0;
    for (const event of events.slice(at + 1)) {
      if (event.type !== 'WebhookEndpointSecretRotated') continue;
      const data = event.data as { secretId: string; previousExpiresAt: string };
      previous = current;
      previousUntilMs = Date.parse(data.previousExpiresAt);
      current = data.secretId;
    }
    const signs = current === named || (previous === named && previousUntilMs > this.clock.now().getTime());
    return signs ? (await outboundTables.secrets(this.pool, [named])).get(named) : undefined;
  }

  private async setEnabled(context: CommandContext, endpointId: string, enabled: boolean, reply: FastifyReply) {
    const result = await this.commands.execute(
      context,
      setEndpointEnabled,
      { type: 'SetWebhookEndpointEnabled', endpointId, enabled },
      (r: WebhookEndpointReply) => ok(r),
    );
    if (!result.replayed) await this.outbound.waitFor(result.position, OWN_EVENT_WAIT_MS_MAX);
    if (enabled) this.outbound.sender.wake();
    return send(reply, result);
  }

  private async endpoint(endpointId: string) {
    const row = await outboundTables.endpoint(this.pool, endpointId);
    if (!row) throw new ApiError(404, 'not_found', `no webhook endpoint ${endpointId}`, { endpointId });
    return row;
  }

  private async checkUrl(url: string): Promise<void> {
    try {
      await checkEndpointUrl(url, this.config.outbound.allowPrivate);
    } catch (error) {
      if (!(error instanceof UrlRefusedError)) throw error;
      throw new ApiError(400, 'validation_failed', `the endpoint URL is refused: ${error.message}`, {
        fields: [{ field: 'url', message: error.message }],
      });
    }
  }
}

/** `POST /v1/accounts/{accountId}/settings` (scope grant): the account's low-balance threshold. */
@ApiTags('accounts')
@Controller('v1/accounts')
export class AccountSettingsController {
  constructor(private readonly commands: CommandExecutor) {}

  @Post(':accountId/settings')
  @HttpCode(200)
  @RequireScope('grant')
  @CommandDocs(
    'Set the account’s low-balance threshold (null: none): `{accountId, lowBalanceThreshold, position}`',
    200,
    [],
    AccountSettingsView,
  )
  async change(
    @IdempotentRequest() context: CommandContext,
    @Param('accountId', IdPipe) accountId: string,
    @Body() body: ChangeAccountSettingsDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.commands.execute(
      context,
      changeAccountSettings,
      { type: 'ChangeAccountSettings', accountId, lowBalanceThreshold: body.lowBalanceThreshold },
      (r: AccountSettingsReply) => ok(r),
    );
    return send(reply, result);
  }
}
