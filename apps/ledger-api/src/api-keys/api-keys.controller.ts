import { randomBytes } from 'node:crypto';
import { Body, Controller, Get, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { ApiKeyReply } from '@ledger/domain';
import { crashPoint } from '@ledger/platform';
import { RequireScope } from '../auth/scopes.decorator.js';
import { isConfigKeyId, newSecret, secretDigest, type ApiKeyRegistry } from '../auth/api-keys.js';
import { CommandExecutor } from '../commands/command-executor.js';
import type { CommandContext } from '../commands/idempotency.js';
import type { LedgerConfig } from '../config/ledger-config.js';
import { ApiError } from '../errors/api-error.js';
import { created, ok, send } from '../http/answers.js';
import { CommandDocs } from '../http/command-docs.decorator.js';
import { IdPipe } from '../http/id.pipe.js';
import { IdempotentRequest } from '../http/idempotent-request.decorator.js';
import { API_KEYS, LEDGER_CONFIG } from '../infrastructure/tokens.js';
import { pageOf } from '../queries/page.js';
import { QueryDocs } from '../queries/query-docs.decorator.js';
import { PagingDto, pageRequestOf } from '../queries/read-query.dto.js';
import { ApiKeyFeed, OWN_EVENT_WAIT_MS_MAX } from './api-key-feed.js';
import { CreateApiKeyDto } from './create-api-key/create-api-key.dto.js';
import { createApiKey } from './create-api-key/create-api-key.handler.js';
import { API_KEY_LIST_DESCRIPTION, apiKeyView } from './list-api-keys/api-key.view.js';
import { RevokeApiKeyDto } from './revoke-api-key/revoke-api-key.dto.js';
import { revokeApiKey } from './revoke-api-key/revoke-api-key.handler.js';

@ApiTags('api-keys')
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(
    private readonly commands: CommandExecutor,
    private readonly feed: ApiKeyFeed,
    @Inject(API_KEYS) private readonly registry: ApiKeyRegistry,
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
  ) {}

  @Post()
  @RequireScope('admin')
  @CommandDocs(
    'Create an API key: `{keyId, name, scopes, secret, expiresAt, ratePerSecond, createdAt, position}`; the secret (`ldg_…`) is in this answer only (a repeat of the Idempotency-Key answers without it)',
    201,
    [],
    'ApiKeyCreated',
  )
  async create(
    @IdempotentRequest() context: CommandContext,
    @Body() body: CreateApiKeyDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const secret = newSecret();
    const keyId = `key_${randomBytes(12).toString('base64url')}`;
    const { name, scopes, expiresAt, ratePerSecond } = body;
    const result = await this.commands.execute(
      context,
      createApiKey,
      {
        type: 'CreateApiKey',
        keyId,
        name,
        scopes,
        digest: secretDigest(secret),
        ...(expiresAt === undefined ? {} : { expiresAt }),
        ...(ratePerSecond === undefined ? {} : { ratePerSecond }),
      },
      // The recorded answer (an event) never holds the secret: it is added below, to this answer only.
      (created_: ApiKeyReply) => created(this.withRate(created_)),
    );
    if (result.replayed) return send(reply, result);
    await this.feed.waitFor(result.position, OWN_EVENT_WAIT_MS_MAX);
    return { ...send(reply, result), secret };
  }

  @Get()
  @RequireScope('admin')
  @QueryDocs(
    'The keys this service knows, configured ones first, never a secret',
    API_KEY_LIST_DESCRIPTION,
    [],
    'ApiKeyPage',
  )
  list(@Query() query: PagingDto) {
    const page = pageRequestOf(query);
    const keys = this.registry.list(page.after, page.limit + 1);
    return pageOf(
      keys,
      page,
      (key) => key.rank,
      (key) => ({ ...apiKeyView(key), ratePerSecond: key.ratePerSecond ?? this.config.rateLimitPerSecond }),
    );
  }

  @Post(':keyId/revoke')
  @RequireScope('admin')
  @CommandDocs(
    'Revoke a key: `{keyId, revokedAt, position}`; every replica refuses it (401) within 2 s. A configured key: 409 (remove it from LEDGER_API_KEYS)',
    200,
    [404, 409],
    'ApiKeyRevoked',
  )
  async revoke(
    @IdempotentRequest() context: CommandContext,
    @Param('keyId', IdPipe) keyId: string,
    @Body() body: RevokeApiKeyDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    if (isConfigKeyId(keyId) && this.registry.get(keyId)) {
      throw new ApiError(
        409,
        'invalid_transition',
        `the key ${keyId} comes from LEDGER_API_KEYS and cannot be revoked through the API: remove it from the configuration of every replica`,
        { keyId, source: 'config' },
      );
    }
    const result = await this.commands.execute(
      context,
      revokeApiKey,
      { type: 'RevokeApiKey', keyId, ...(body.reason === undefined ? {} : { reason: body.reason }) },
      ok,
    );
    crashPoint('api-key.after-revoke-append');
    if (!result.replayed) await this.feed.waitFor(result.position, OWN_EVENT_WAIT_MS_MAX);
    return send(reply, result);
  }

  private withRate(reply: ApiKeyReply): ApiKeyReply {
    return 'ratePerSecond' in reply && reply.ratePerSecond === null
      ? { ...reply, ratePerSecond: this.config.rateLimitPerSecond }
      : reply;
  }
}
