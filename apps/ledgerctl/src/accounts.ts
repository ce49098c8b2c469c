import type { Command } from 'commander';
import {
  accountsGet,
  accountsGrant,
  accountsLedger,
  accountsLots,
  accountsStatement,
  accountsVoidGrant,
  newIdempotencyKey,
  unwrap,
  LedgerError,
} from '@ledger/client';
import { positiveInteger, type Context } from './context.js';

type ContextOf = (command: Command) => Context;

const SOURCES = ['purchase', 'promo', 'adjustment', 'migration'] as const;

/** grant, void, account, lots, ledger, statement: an account's commands and reads. */
export function accountCommands(program: Command, contextOf: ContextOf): void {
  program
    .command('grant')
    .description('grant credits to an account (a lot); creates the account on its first grant')
    .argument('<accountId>')
    .argument('<amount>', 'credits, a positive integer', positiveInteger('amount'))
    .option('--source <source>', SOURCES.join(' | '), 'adjustment')
    .option('--reference <reference>', 'e.g. the payment id')
    .option('--grant-id <grantId>', 'the lot id (generated when absent)')
    .option('--category <category>', 'paid | promotional')
    .option('--expires-at <iso>', 'ISO 8601 instant; absent: never expires')
    .option('--priority <n>', '0–100, lower is spent first', Number)
    .option('--idempotency-key <key>', 'to make a repeat of this command safe (default: a new one)')
    .action(async (accountId: string, amount: number, options: Record<string, string | number | undefined>, cmd) => {
      const context = contextOf(cmd);
      const answer = await unwrap(
        accountsGrant({
          client: context.client,
          path: { accountId },
          headers: { 'Idempotency-Key': String(options['idempotencyKey'] ?? newIdempotencyKey()) },
          body: {
            amount,
            source: options['source'] as (typeof SOURCES)[number],
            ...defined({
              reference: options['reference'],
              grantId: options['grantId'],
              category: options['category'],
              expiresAt: options['expiresAt'],
              priority: options['priority'],
            }),
          } as never,
        }),
      );
      context.print(
        answer,
        `granted ${amount} to ${accountId} (lot ${answer.grantId}): balance ${answer.balance}, position ${answer.position}`,
      );
    });

  program
    .command('void')
    .description('void what remains of a lot')
    .argument('<accountId>')
    .argument('<grantId>')
    .requiredOption('--reason <reason>', 'why (kept in the log)')
    .option('--idempotency-key <key>')
    .action(async (accountId: string, grantId: string, options: { reason: string; idempotencyKey?: string }, cmd) => {
      const context = contextOf(cmd);
      const answer = await unwrap(
        accountsVoidGrant({
          client: context.client,
          path: { accountId, grantId },
          headers: { 'Idempotency-Key': options.idempotencyKey ?? newIdempotencyKey() },
          body: { reason: options.reason },
        }),
      );
      context.print(answer, `voided ${answer.voided} of lot ${grantId}: balance ${answer.balance}`);
    });

  program
    .command('account')
    .description("an account's balance and totals")
    .argument('<accountId>')
    .option('--min-position <position>', 'wait until the read models saw this position', Number)
    .action(async (accountId: string, options: { minPosition?: number }, cmd) => {
      const context = contextOf(cmd);
      const account = await unwrap(
        accountsGet({
          client: context.client,
          path: { accountId },
          query: defined({ minPosition: options.minPosition }),
        }),
      );
      context.print(
        account,
        [
          `account ${account.accountId}`,
          `  balance        ${account.balance} (paid ${account.paid}, promotional ${account.promotional})`,
          `  granted        ${account.totalGranted}`,
          `  debited        ${account.totalDebited}`,
          `  refunded       ${account.totalRefunded}`,
          `  expired        ${account.totalExpired}`,
          `  voided         ${account.totalVoided}`,
          `  expiring next  ${account.expiringNext ? `${account.expiringNext.amount} at ${account.expiringNext.at}` : '-'}`,
          `  position       ${account.position}`,
        ].join('\n'),
      );
    });

  program
    .command('lots')
    .description("an account's lots of one status, in spending order")
    .argument('<accountId>')
    .option('--status <status>', 'active | exhausted | expired | voided', 'active')
    .option('--limit <n>', '1–500', Number)
    .option('--cursor <cursor>')
    .action(async (accountId: string, options: { status: string; limit?: number; cursor?: string }, cmd) => {
      const context = contextOf(cmd);
      const page = await unwrap(
        accountsLots({
          client: context.client,
          path: { accountId },
          query: { status: options.status as 'active', ...defined({ limit: options.limit, cursor: options.cursor }) },
        }),
      );
      context.print(
        page,
        table(
          ['grantId', 'category', 'priority', 'granted', 'remaining', 'expiresAt', 'status'],
          page.items.map((lot) => [
            lot.grantId,
            lot.category,
            lot.priority,
            lot.granted,
            lot.remaining,
            lot.expiresAt ?? '-',
            lot.status,
          ]),
          page.nextCursor,
        ),
      );
    });

  program
    .command('ledger')
    .description("an account's ledger entries, newest first")
    .argument('<accountId>')
    .option('--limit <n>', '1–500', Number)
    .option('--cursor <cursor>')
    .action(async (accountId: string, options: { limit?: number; cursor?: string }, cmd) => {
      const context = contextOf(cmd);
      const page = await unwrap(
        accountsLedger({
          client: context.client,
          path: { accountId },
          query: defined({ limit: options.limit, cursor: options.cursor }),
        }),
      );
      context.print(
        page,
        table(
          ['position', 'at', 'type', 'amount', 'balanceAfter', 'projectId', 'reason'],
          page.items.map((e) => [
            e.position,
            e.at,
            e.type,
            e.amount,
            e.balanceAfter,
            e.projectId ?? '',
            e.reason ?? '',
          ]),
          page.nextCursor,
        ),
      );
    });

  program
    .command('statement')
    .description("an account's statement between two instants (both included)")
    .argument('<accountId>')
    .requiredOption('--from <iso>', 'ISO 8601')
    .requiredOption('--to <iso>', 'ISO 8601')
    .option('--csv', 'the entries as CSV with a header row')
    .action(async (accountId: string, options: { from: string; to: string; csv?: boolean }, cmd) => {
      const context = contextOf(cmd);
      const request = { client: context.client, path: { accountId }, query: { from: options.from, to: options.to } };
      if (options.csv) {
        const result = await accountsStatement({ ...request, headers: { accept: 'text/csv' }, parseAs: 'text' });
        const csv: unknown = result.error === undefined ? result.data : await unwrap(Promise.resolve(result));
        if (typeof csv !== 'string') throw new LedgerError(0, 'unexpected_response', 'no CSV in the answer');
        process.stdout.write(csv);
        return;
      }
      const statement = await unwrap(accountsStatement(request));
      context.print(statement);
    });
}

/** The options that were given, without the absent ones (the API refuses explicit nulls). */
export function defined<T extends Record<string, unknown>>(values: T): { [K in keyof T]?: NonNullable<T[K]> } {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as never;
}

/** Rows as aligned text columns, with the next page's cursor when there is one. */
export function table(header: string[], rows: (string | number)[][], nextCursor?: string | null): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
  const lines = cells.map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  if (rows.length === 0) lines.push('(none)');
  if (nextCursor) lines.push(`next page: --cursor ${nextCursor}`);
  return lines.join('\n');
}
