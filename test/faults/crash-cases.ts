import { createHmac } from 'node:crypto';
import type { CrashSite } from '@ledger/platform';

export const ADMIN_SECRET = 'crash_admin_secret_0123456789';
export const PROVIDER = 'crashprov';
export const PROVIDER_SECRET = 'crash_provider_secret_0123456789';

/** A request as the test sends it; `raw` bodies are sent byte for byte (signed webhooks). */
export interface Request {
  path: string;
  body: unknown;
  /** The caller's Idempotency-Key (webhooks take none: the delivery is its own key). */
  key?: string;
  webhook?: boolean;
}

/**
 * One command type: what its target needs first (set up before any crash) and the
 * request the crash takes the answer of. `tag` makes every id of a case its own.
 */
export interface CommandType {
  name: string;
  setup(tag: string): Request[];
  target(tag: string, known: Known): Request;
  /** Which stored events the target's append wrote (one command id among them: applied once). */
  applied(tag: string, key: string): { where: string; values: unknown[] };
}

/** What setup answers carried that a target needs (a created key's id). */
export type Known = Map<string, string>;

const grant = (tag: string, amount = 100): Request => ({
  path: `/v1/accounts/acc-${tag}/grants`,
  body: { amount, source: 'purchase', grantId: `g-${tag}` },
  key: `setup-grant-${tag}`,
});
const start = (tag: string, extra: Record<string, unknown> = {}): Request => ({
  path: '/v1/projects',
  body: { projectId: `p-${tag}`, accountId: `acc-${tag}`, cost: 40, ...extra },
  key: `setup-start-${tag}`,
});
const claim = (tag: string): Request => ({
  path: `/v1/projects/p-${tag}/claim`,
  body: { workerId: 'w-1', leaseSeconds: 600 },
  key: `setup-claim-${tag}`,
});
const byKey = (_tag: string, key: string) => ({
  where: `metadata->>'idempotencyKey' = $1`,
  values: [key],
});

export const COMMAND_TYPES: readonly CommandType[] = [
  {
    name: 'grant',
    setup: () => [],
    target: (tag) => ({ ...grant(tag), key: `target-${tag}` }),
    applied: byKey,
  },
  {
    name: 'void',
    setup: (tag) => [grant(tag)],
    target: (tag) => ({
      path: `/v1/accounts/acc-${tag}/grants/g-${tag}/void`,
      body: { reason: 'chargeback' },
      key: `target-${tag}`,
    }),
    applied: byKey,
  },
  {
    name: 'debit',
    setup: (tag) => [grant(tag)],
    target: (tag) => ({
      path: `/v1/accounts/acc-${tag}/debits`,
      body: { amount: 30, reason: 'api-call' },
      key: `target-${tag}`,
    }),
    applied: byKey,
  },
  {
    name: 'start',
    setup: (tag) => [grant(tag)],
    target: (tag) => ({ ...start(tag), key: `target-${tag}` }),
    applied: byKey,
  },
  {
    name: 'claim',
    setup: (tag) => [grant(tag), start(tag)],
    target: (tag) => ({ ...claim(tag), key: `target-${tag}` }),
    applied: byKey,
  },
  {
    name: 'heartbeat',
    setup: (tag) => [grant(tag), start(tag), claim(tag)],
    target: (tag) => ({
      path: `/v1/projects/p-${tag}/heartbeat`,
      body: { attempt: 1, leaseSeconds: 600 },
      key: `target-${tag}`,
    }),
    applied: byKey,
  },
  {
    name: 'complete',
    setup: (tag) => [grant(tag), start(tag), claim(tag)],
    // Partial use: the completion refunds the rest in the same append.
    target: (tag) => ({
      path: `/v1/projects/p-${tag}/complete`,
      body: { attempt: 1, creditsUsed: 25, assets: { assetUrl: `https://cdn.test/${tag}.mp4` } },
      key: `target-${tag}`,
    }),
    applied: byKey,
  },
  {
    name: 'fail',
    setup: (tag) => [grant(tag), start(tag), claim(tag)],
    target: (tag) => ({
      path: `/v1/projects/p-${tag}/fail`,
      body: { attempt: 1, errorMessage: 'worker crashed' },
      key: `target-${tag}`,
    }),
    applied: byKey,
  },
  {
    name: 'cancel',
    setup: (tag) => [grant(tag), start(tag)],
    target: (tag) => ({
      path: `/v1/projects/p-${tag}/fail`,
      body: { errorMessage: 'user cancelled' },
      key: `target-${tag}`,
    }),
    applied: byKey,
  },
  {
    name: 'assets',
    setup: (tag) => [
      grant(tag),
      start(tag),
      claim(tag),
      { path: `/v1/projects/p-${tag}/complete`, body: { attempt: 1, creditsUsed: 40 }, key: `setup-done-${tag}` },
    ],
    target: (tag) => ({
      path: `/v1/projects/p-${tag}/assets`,
      body: { assetUrl: `https://cdn.test/${tag}.png` },
      key: `target-${tag}`,
    }),
    applied: byKey,
  },
  {
    name: 'webhook',
    setup: (tag) => [grant(tag), start(tag, { externalTaskId: `task-${tag}` }), claim(tag)],
    target: (tag) => ({
      path: `/v1/webhooks/${PROVIDER}`,
      body: {
        taskId: `task-${tag}`,
        status: 'succeeded',
        deliveryId: `d-${tag}`,
        assets: { assetUrl: 'https://x.test/a' },
      },
      webhook: true,
    }),
    applied: (tag) => ({ where: `stream_name = $1 AND event_type = 'ProjectCompleted'`, values: [`project-p-${tag}`] }),
  },
  {
    name: 'create-key',
    setup: () => [],
    target: (tag) => ({ path: '/v1/api-keys', body: { name: `k-${tag}`, scopes: ['read'] }, key: `target-${tag}` }),
    applied: byKey,
  },
  {
    name: 'revoke-key',
    setup: (tag) => [{ path: '/v1/api-keys', body: { name: `k-${tag}`, scopes: ['read'] }, key: `setup-key-${tag}` }],
    target: (tag, known) => ({
      path: `/v1/api-keys/${known.get(`setup-key-${tag}`)}/revoke`,
      body: { reason: 'rotated' },
      key: `target-${tag}`,
    }),
    applied: byKey,
  },
];

/**
 * The log's event types the outbound catalogue sends (README, "Event catalogue"), stated here
 * apart from the dispatcher's own mapping: what an endpoint subscribed to `*` is owed for each.
 */
export const CATALOGUED = new Set([
  'CreditsGranted',
  'Debited',
  'Refunded',
  'CreditsExpired',
  'GrantVoided',
  'ProjectStarted',
  'ProjectClaimed',
  'ProjectCompleted',
  'ProjectFailed',
]);

export const EXECUTOR_SITES: readonly CrashSite[] = [
  'command.after-read-ahead',
  'command.after-decision',
  'command.after-append',
];

/** The headers of a request: the admin key and its Idempotency-Key, or a provider's signature. */
export function headersOf(request: Request, raw: string): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (request.webhook) {
    const at = Math.floor(Date.now() / 1000);
    const digest = createHmac('sha256', PROVIDER_SECRET).update(`${at}.${raw}`).digest('hex');
    headers['x-signature'] = `t=${at},v1=${digest}`;
  } else {
    headers.authorization = `Bearer ${ADMIN_SECRET}`;
    headers['idempotency-key'] = request.key!;
  }
  return headers;
}
