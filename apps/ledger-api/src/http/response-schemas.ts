import type { Type } from '@nestjs/common';
import { RULE_VIOLATION_CODES } from '@ledger/domain';

/**
 * The OpenAPI schemas of what the service answers (API.md), as components of the
 * document: each operation's responses refer to them, so a generated client types
 * every answer and every error. `openapi.ts` adds them to the document.
 */
type Schema = Record<string, unknown>;

const integer = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const text = { type: 'string' } as const;
const instant = { type: 'string', format: 'date-time' } as const;
// OpenAPI 3.0: a $ref takes no siblings, so a nullable reference wraps it.
const nullable = (schema: Schema): Schema =>
  '$ref' in schema ? { allOf: [schema], nullable: true } : { ...schema, nullable: true };
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const object = (properties: Record<string, Schema>, optional: string[] = []): Schema => {
  const required = Object.keys(properties).filter((name) => !optional.includes(name));
  return { type: 'object', properties, ...(required.length > 0 ? { required } : {}) };
};
const page = (item: string): Schema =>
  object({
    items: { type: 'array', items: ref(item) },
    nextCursor: { ...nullable(text), description: 'pass as `?cursor=` for the next page; null on the last one' },
  });
const position = { ...integer, description: 'the global position of the last event (pass as `minPosition`)' };
const lotDraws = { type: 'array', items: object({ grantId: text, amount: integer }) };
const assets = object(
  { assetUrl: text, previewUrl: text, thumbnailUrl: text, resultUrls: { type: 'array', items: text } },
  ['assetUrl', 'previewUrl', 'thumbnailUrl', 'resultUrls'],
);
const balances = object({ balance: integer, paid: integer, promotional: integer });
const projectStatus = { type: 'string', enum: ['pending', 'processing', 'completed', 'failed'] } as const;
const scope = { type: 'string', enum: ['grant', 'debit', 'start', 'work', 'read', 'audit', 'admin', 'commands'] };
const storedEvent = {
  id: text,
  type: text,
  data: { type: 'object', additionalProperties: true },
  metadata: { type: 'object', additionalProperties: true },
  at: instant,
};

/** Every error code an answer can carry (API.md "Errors"); a client switches on it. */
export const ERROR_CODES = [
  ...RULE_VIOLATION_CODES,
  'unauthenticated',
  'forbidden',
  'idempotency_key_reused',
  'rate_limited',
  'projection_behind',
  'unavailable',
  'concurrency_conflict',
  'request_in_flight',
  'method_not_allowed',
  'payload_too_large',
  'unsupported_media_type',
  'too_many_requests',
  'bad_request',
  'internal_error',
] as const;

const ledgerEntry = object(
  {
    position: integer,
    type: {
      type: 'string',
      enum: ['CreditsGranted', 'Debited', 'Refunded', 'CreditsExpired', 'GrantVoided'],
    },
    amount: integer,
    balanceAfter: integer,
    paidAfter: integer,
    promotionalAfter: integer,
    projectId: nullable(text),
    reason: nullable(text),
    source: nullable(text),
    reference: nullable(text),
    grantId: nullable(text),
    category: nullable(text),
    lots: nullable(lotDraws),
    at: instant,
  },
  ['paidAfter', 'promotionalAfter', 'projectId', 'reason', 'source', 'reference', 'grantId', 'category', 'lots'],
);

export const RESPONSE_SCHEMAS = {
  ErrorBody: object({
    error: object(
      {
        code: { type: 'string', enum: [...ERROR_CODES] },
        message: text,
        details: { description: 'what was wrong: for validation_failed, `[{field, problems}]`' },
        requestId: { ...text, description: 'the id of the request, as in the service logs' },
      },
      ['details', 'requestId'],
    ),
  }),
  AccountAnswer: object({ accountId: text, balance: integer, position }),
  GrantAnswer: object({ accountId: text, grantId: text, balance: integer, position }),
  VoidAnswer: object({ accountId: text, grantId: text, voided: integer, balance: integer, position }),
  StartAnswer: object({ projectId: text, status: projectStatus, balance: integer, position }),
  ClaimAnswer: object({
    projectId: text,
    status: { type: 'string', enum: ['processing'] },
    attempt: integer,
    leaseExpiresAt: instant,
    position,
  }),
  HeartbeatAnswer: object({ projectId: text, attempt: integer, leaseExpiresAt: instant, position }),
  FinishAnswer: object({ projectId: text, status: projectStatus, refunded: integer, position }),
  AssetsAnswer: object({
    projectId: text,
    status: { type: 'string', enum: ['completed'] },
    assets: ref('Assets'),
    position,
  }),
  ProviderReportAnswer: object({
    projectId: text,
    status: projectStatus,
    refunded: integer,
    assets: nullable(ref('Assets')),
    position,
  }),
  DeliveryRetryAccepted: object({ deliveryId: text, status: { type: 'string', enum: ['pending'] } }),
  UnmatchedDeliveryKept: object({ provider: text, taskId: text, matched: { type: 'boolean', enum: [false] } }),
  Assets: assets,
  ProjectAssets: object({
    assetUrl: nullable(text),
    previewUrl: nullable(text),
    thumbnailUrl: nullable(text),
    resultUrls: nullable({ type: 'array', items: text }),
  }),
  Account: object({
    accountId: text,
    balance: integer,
    paid: integer,
    promotional: integer,
    totalGranted: integer,
    totalDebited: integer,
    totalRefunded: integer,
    totalExpired: integer,
    totalVoided: integer,
    expiringNext: nullable(object({ at: instant, amount: integer })),
    updatedAt: instant,
    position,
  }),
  BalanceAt: object({ accountId: text, at: instant, balance: integer, paid: integer, promotional: integer, position }),
  Lot: object({
    grantId: text,
    category: { type: 'string', enum: ['paid', 'promotional'] },
    source: text,
    reference: nullable(text),
    priority: integer,
    granted: integer,
    remaining: integer,
    expiresAt: nullable(instant),
    status: { type: 'string', enum: ['active', 'exhausted', 'expired', 'voided'] },
    grantedAt: instant,
  }),
  LotPage: page('Lot'),
  LedgerEntry: ledgerEntry,
  LedgerEntryPage: page('LedgerEntry'),
  Statement: object({
    accountId: text,
    from: instant,
    to: instant,
    opening: balances,
    closing: balances,
    totals: object({ granted: integer, debited: integer, refunded: integer, expired: integer, voided: integer }),
    entries: { type: 'array', items: ref('LedgerEntry') },
  }),
  Project: object(
    {
      projectId: text,
      accountId: text,
      status: projectStatus,
      cost: integer,
      creditsUsed: nullable(integer),
      refunded: integer,
      attempt: integer,
      workerId: nullable(text),
      leaseExpiresAt: nullable(instant),
      deadlineAt: nullable(instant),
      errorCode: nullable(text),
      errorMessage: nullable(text),
      assets: nullable(ref('ProjectAssets')),
      kind: nullable(text),
      externalTaskId: nullable(text),
      metadata: nullable({ type: 'object', additionalProperties: true }),
      createdAt: instant,
      updatedAt: instant,
      position,
    },
    ['deadlineAt', 'errorCode', 'kind', 'externalTaskId', 'metadata', 'position'],
  ),
  ProjectPage: page('Project'),
  ApiKey: object({
    keyId: text,
    name: text,
    scopes: { type: 'array', items: scope },
    expiresAt: nullable(instant),
    revokedAt: nullable(instant),
    ratePerSecond: nullable(integer),
    source: { type: 'string', enum: ['config', 'api'] },
    createdAt: nullable(instant),
  }),
  ApiKeyPage: page('ApiKey'),
  ApiKeyCreated: object(
    {
      keyId: text,
      name: text,
      scopes: { type: 'array', items: scope },
      secret: { ...text, description: '`ldg_…`: in the first answer only, not in a repeat of the Idempotency-Key' },
      expiresAt: nullable(instant),
      ratePerSecond: nullable(integer),
      createdAt: instant,
      position,
    },
    ['secret'],
  ),
  ApiKeyRevoked: object({ keyId: text, revokedAt: instant, position }),
  StreamEventPage: object({
    items: { type: 'array', items: object({ revision: integer, position: integer, ...storedEvent }) },
    nextRevision: nullable(integer),
  }),
  LogEvent: object({ position: integer, streamName: text, revision: integer, ...storedEvent }),
  LogEventPage: object({ items: { type: 'array', items: ref('LogEvent') }, nextPosition: nullable(integer) }),
  Reconciliation: object({
    checkedAccounts: integer,
    checkedProjects: integer,
    mismatches: {
      type: 'array',
      items: object({ accountId: text, projectId: text, grantId: text, field: text, projected: {}, folded: {} }, [
        'accountId',
        'projectId',
        'grantId',
        'projected',
        'folded',
      ]),
    },
    mismatchCount: integer,
    violations: {
      type: 'array',
      items: object({ invariant: text, id: text, message: text, position: nullable(integer) }, ['position']),
    },
    violationCount: integer,
    position,
    checkpoints: object({ accountBalances: integer, projects: integer, lots: integer }),
    mode: { type: 'string', enum: ['continuous', 'full'] },
    headPosition: position,
    lagEvents: integer,
  }),
  UnmatchedDelivery: object({
    id: text,
    provider: text,
    taskId: text,
    body: { type: 'object', additionalProperties: true },
    deliveries: integer,
    receivedAt: instant,
    lastReceivedAt: instant,
    status: { type: 'string', enum: ['kept', 'applied', 'expired'] },
    projectId: nullable(text),
    appliedStatus: nullable(integer),
    position: nullable(position),
    appliedAt: nullable(instant),
    expiredAt: nullable(instant),
  }),
  UnmatchedDeliveryPage: page('UnmatchedDelivery'),
  Health: object(
    {
      status: { type: 'string', enum: ['ok', 'error', 'shutting_down'] },
      info: nullable({ type: 'object', additionalProperties: true }),
      error: nullable({ type: 'object', additionalProperties: true }),
      details: { type: 'object', additionalProperties: true },
    },
    ['info', 'error'],
  ),
  MetricsText: { type: 'string', description: 'Prometheus text exposition format' },
} satisfies Record<string, Schema>;

export type ResponseSchemaName = keyof typeof RESPONSE_SCHEMAS;

/** A `$ref` to one of the schemas above, for `@ApiResponse({ schema })`. */
export function responseSchema(name: ResponseSchemaName): { $ref: string } {
  return { $ref: `#/components/schemas/${name}` };
}

/** A success response's schema: one of the named schemas above, or a response DTO class. */
export type AnswerSchema = ResponseSchemaName | Type<unknown>;

export function answerDocs(answer: AnswerSchema | undefined): { schema?: { $ref: string }; type?: Type<unknown> } {
  if (answer === undefined) return {};
  return typeof answer === 'string' ? { schema: responseSchema(answer) } : { type: answer };
}
