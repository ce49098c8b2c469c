import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { apiKeysCreate, apiKeysList, apiKeysRevoke, newIdempotencyKey, unwrap } from '@ledger/client';
import { UsageError, positiveInteger, type Context } from './context.js';
import { defined, table } from './accounts.js';

type ContextOf = (command: Command) => Context;

const SCOPES = ['grant', 'debit', 'start', 'work', 'read', 'audit', 'admin', 'commands'];
const WEBHOOK_EVENTS_DEFAULT = ['*'];

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

/**
 * The outbound webhook endpoints of API.md "Outbound webhooks". They are called by
 * path: the served document names them once that API is merged.
 */
function webhookCommands(program: Command, contextOf: ContextOf): void {
  const webhooks = program.command('webhooks').description('outbound webhook endpoints (scope admin)');
  const call = async (context: Context, method: 'get' | 'post', url: string, body?: object) =>
    unwrap<Record<string, unknown>>(
      context.client[method]({
        url,
        ...(body === undefined ? {} : { body, headers: { 'Idempotency-Key': newIdempotencyKey() } }),
      }) as never,
    );
  webhooks
    .command('add')
    .argument('<url>')
    .option('--events <types>', 'comma-separated event types, or *', WEBHOOK_EVENTS_DEFAULT.join(','))
    .option('--description <text>')
    .action(async (url: string, options: { events: string; description?: string }, cmd) => {
      const context = contextOf(cmd);
      const events = options.events.split(',').map((e) => e.trim());
      const endpoint = await call(context, 'post', '/v1/webhook-endpoints', {
        url,
        events,
        ...defined({ description: options.description }),
      });
      context.print(
        endpoint,
        `added ${String(endpoint['endpointId'])}\nsecret (shown once): ${String(endpoint['secret'])}`,
      );
    });
  webhooks.command('list').action(async (_options: object, cmd) => {
    const context = contextOf(cmd);
    const page = await call(context, 'get', '/v1/webhook-endpoints');
    const items = (page['items'] ?? []) as Record<string, unknown>[];
    context.print(
      page,
      table(
        ['endpointId', 'status', 'url', 'events'],
        items.map((e) => [String(e['endpointId']), String(e['status']), String(e['url']), String(e['events'])]),
        page['nextCursor'] as string | null,
      ),
    );
  });
  webhooks
    .command('deliveries')
    .argument('<endpointId>')
    .option('--status <status>', 'pending | succeeded | failed')
    .action(async (endpointId: string, options: { status?: string }, cmd) => {
      const context = contextOf(cmd);
      const query = options.status ? `?status=${encodeURIComponent(options.status)}` : '';
      const page = await call(
        context,
        'get',
        `/v1/webhook-endpoints/${encodeURIComponent(endpointId)}/deliveries${query}`,
      );
      const items = (page['items'] ?? []) as Record<string, unknown>[];
      context.print(
        page,
        table(
          ['deliveryId', 'type', 'status', 'attempts', 'lastStatusCode', 'nextAttemptAt'],
          items.map((d) =>
            ['deliveryId', 'type', 'status', 'attempts', 'lastStatusCode', 'nextAttemptAt'].map((k) =>
              String(d[k] ?? '-'),
            ),
          ),
          page['nextCursor'] as string | null,
        ),
      );
    });
  webhooks
    .command('retry')
    .argument('<endpointId>')
    .argument('<deliveryId>')
    .action(async (endpointId: string, deliveryId: string, _options: object, cmd) => {
      const context = contextOf(cmd);
      const path = `/v1/webhook-endpoints/${encodeURIComponent(endpointId)}/deliveries/${encodeURIComponent(deliveryId)}/retry`;
      const answer = await call(context, 'post', path, {});
      context.print(answer ?? { endpointId, deliveryId, retried: true }, `retry of ${deliveryId} queued`);
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
