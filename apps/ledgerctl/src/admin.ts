import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import {
  apiKeysCreate,
  apiKeysList,
  apiKeysRevoke,
  newIdempotencyKey,
  outboundDeliveries,
  outboundList,
  outboundRegister,
  outboundRetry,
  unwrap,
  type OutboundDeliveriesData,
  type RegisterEndpointDto,
} from '@ledger/client';
import { UsageError, positiveInteger, type Context } from './context.js';
import { defined, table } from './accounts.js';

type ContextOf = (command: Command) => Context;

const SCOPES = ['grant', 'debit', 'start', 'work', 'read', 'audit', 'admin', 'commands'];
type WebhookEvent = RegisterEndpointDto['events'][number];
type DeliveryStatus = NonNullable<NonNullable<OutboundDeliveriesData['query']>['status']>;
const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'succeeded', 'failed'];

/** keys create|list|revoke and webhooks add|list|deliveries|retry (scope `admin`). */
export function adminCommands(program: Command, contextOf: ContextOf): void {
  const keys = program.command('keys').description('API keys (scope admin)');
  keys
    .command('create')
    .description('create a key; its secret is shown once')
    .argument('<name>')
    .requiredOption('--scopes <scopes>', `comma-separated: ${SCOPES.join(', ')}`)
    .option('--expires-at <iso>')
    .option('--rate <perSecond>', 'requests per second', positiveInteger('rate'))
    .action(async (name: string, options: { scopes: string; expiresAt?: string; rate?: number }, cmd) => {
      const context = contextOf(cmd);
      const scopes = options.scopes.split(',').map((s) => s.trim());
      const unknown = scopes.filter((s) => !SCOPES.includes(s));
      if (unknown.length > 0) throw new UsageError(`unknown scope(s): ${unknown.join(', ')}`);
      const key = await unwrap(
        apiKeysCreate({
          client: context.client,
          headers: { 'Idempotency-Key': newIdempotencyKey() },
          body: { name, scopes, ...defined({ expiresAt: options.expiresAt, ratePerSecond: options.rate }) } as never,
        }),
      );
      context.print(
        key,
        `created ${key.keyId} (${key.name}: ${key.scopes.join(', ')})\nsecret (shown once): ${key.secret}`,
      );
    });
  keys
    .command('list')
    .description('the keys, never a secret')
    .option('--limit <n>', '1–500', Number)
    .option('--cursor <cursor>')
    .action(async (options: { limit?: number; cursor?: string }, cmd) => {
      const context = contextOf(cmd);
      const page = await unwrap(apiKeysList({ client: context.client, query: defined(options) }));
      context.print(
        page,
        table(
          ['keyId', 'name', 'scopes', 'source', 'expiresAt', 'revokedAt'],
          page.items.map((k) => [
            k.keyId,
            k.name,
            k.scopes.join(','),
            k.source,
            k.expiresAt ?? '-',
            k.revokedAt ?? '-',
          ]),
          page.nextCursor,
        ),
      );
    });
  keys
    .command('revoke')
    .argument('<keyId>')
    .option('--reason <reason>')
    .action(async (keyId: string, options: { reason?: string }, cmd) => {
      const context = contextOf(cmd);
      const answer = await unwrap(
        apiKeysRevoke({
          client: context.client,
          path: { keyId },
          headers: { 'Idempotency-Key': newIdempotencyKey() },
          body: defined(options),
        }),
      );
      context.print(answer, `revoked ${answer.keyId} at ${answer.revokedAt}`);
    });

  webhookCommands(program, contextOf);

  program
    .command('rebuild')
    .description(
      'rebuild read models from position zero and swap them in, while the service serves (needs the database: DATABASE_URL or the local data folder, not the API)',
    )
    .option('-p, --projection <name...>', 'projections to rebuild (default: all)')
    .action(async (options: { projection?: string[] }) => {
      process.exitCode = await runRebuild(options.projection ?? []);
    });
}

/** The outbound webhook endpoints of API.md "Outbound webhooks" (`/v1/webhook-endpoints`). */
function webhookCommands(program: Command, contextOf: ContextOf): void {
  const webhooks = program.command('webhooks').description('outbound webhook endpoints (scope admin)');
  webhooks
    .command('add')
    .description('register an endpoint; its signing secret is shown (again for a repeat of the same --idempotency-key)')
    .argument('<url>')
    .option('--events <types>', 'comma-separated event types (API.md), or * for all', '*')
    .option('--description <text>')
    .option('--idempotency-key <key>', 'to make a repeat of this command safe (a repeat shows no secret)')
    .action(async (url: string, options: { events: string; description?: string; idempotencyKey?: string }, cmd) => {
      const context = contextOf(cmd);
      // An unknown type is refused by the service (validation_failed, exit 1).
      const events = options.events.split(',').map((e) => e.trim()) as WebhookEvent[];
      const endpoint = await unwrap(
        outboundRegister({
          client: context.client,
          headers: { 'Idempotency-Key': options.idempotencyKey ?? newIdempotencyKey() },
          body: { url, events, ...defined({ description: options.description }) },
        }),
      );
      // A repeat of the Idempotency-Key answers without the secret: it was shown by the first.
      context.print(
        endpoint,
        `added ${endpoint.endpointId} (${endpoint.url}: ${endpoint.events.join(', ')})\n` +
          (endpoint.secret
            ? `secret: ${endpoint.secret}`
            : 'secret not shown: this repeats an earlier add, which showed it'),
      );
    });
  webhooks
    .command('list')
    .description('the endpoints, oldest first, never a secret')
    .option('--limit <n>', '1–500', Number)
    .option('--cursor <cursor>')
    .action(async (options: { limit?: number; cursor?: string }, cmd) => {
      const context = contextOf(cmd);
      const page = await unwrap(outboundList({ client: context.client, query: defined(options) }));
      context.print(
        page,
        table(
          ['endpointId', 'status', 'url', 'events', 'description'],
          page.items.map((e) => [e.endpointId, e.status, e.url, e.events.join(','), e.description ?? '-']),
          page.nextCursor,
        ),
      );
    });
  webhooks
    .command('deliveries')
    .description("an endpoint's deliveries, oldest first, each with its attempts")
    .argument('<endpointId>')
    .option('--status <status>', DELIVERY_STATUSES.join(' | '))
    .option('--limit <n>', '1–500', Number)
    .option('--cursor <cursor>')
    .action(async (endpointId: string, options: { status?: string; limit?: number; cursor?: string }, cmd) => {
      const context = contextOf(cmd);
      // An unknown status is refused by the service (validation_failed), as `lots --status` is.
      const page = await unwrap(
        outboundDeliveries({
          client: context.client,
          path: { endpointId },
          query: defined({ ...options, status: options.status as DeliveryStatus | undefined }),
        }),
      );
      const rows = page.items.flatMap((d) => [
        [
          d.deliveryId,
          d.type,
          d.position,
          d.status,
          d.attempts,
          d.lastStatusCode ?? '-',
          d.nextAttemptAt ?? '-',
          d.lastError ?? '-',
        ],
        ...d.attemptLog.map((a) => [
          `  #${a.attempt}`,
          a.at,
          `${a.durationMs} ms`,
          a.statusCode ?? '-',
          '',
          '',
          '',
          a.error ?? '',
        ]),
      ]);
      context.print(
        page,
        table(
          ['deliveryId', 'type', 'position', 'status', 'attempts', 'lastStatusCode', 'nextAttemptAt', 'lastError'],
          rows,
          page.nextCursor,
        ),
      );
    });
  webhooks
    .command('retry')
    .description('send a delivery again now, with the same webhook-id (one more attempt if it had failed)')
    .argument('<endpointId>')
    .argument('<deliveryId>', 'as `webhooks deliveries` shows it')
    .action(async (endpointId: string, deliveryId: string, _options: object, cmd) => {
      const context = contextOf(cmd);
      const answer = await unwrap(
        outboundRetry({
          client: context.client,
          path: { endpointId, deliveryId },
          headers: { 'Idempotency-Key': newIdempotencyKey() },
          body: {},
        }),
      );
      // The service's answer is `{deliveryId, status: "pending"}`; the id is printed as given, whatever its JSON type.
      const accepted = { endpointId, deliveryId: String(answer.deliveryId), status: answer.status };
      context.print(accepted, `retry of delivery ${accepted.deliveryId} queued (${accepted.status})`);
    });
}

/** Runs the projector's rebuild (apps/projector/src/rebuild.ts) in a child process, its output on this terminal. */
function runRebuild(projections: string[]): Promise<number> {
  const script = fileURLToPath(new URL('../../projector/src/rebuild.ts', import.meta.url));
  const tsconfig = fileURLToPath(new URL('../../../tsconfig.json', import.meta.url));
  const args = ['--import', 'tsx', script, ...projections.flatMap((p) => ['-p', p])];
  const child = spawn(process.execPath, args, {
    stdio: 'inherit',
    env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig },
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? 1));
  });
}
