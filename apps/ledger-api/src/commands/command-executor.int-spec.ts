import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { migrate } from '@ledger/platform';
import { PostgresEventStore, type EventStore } from '@ledger/event-store';
import { RuleViolation, type AccountState, type ProjectState } from '@ledger/domain';
import { createTestDatabase } from '@ledger/test-support';
import { grantCredits } from '../accounts/grant-credits/grant-credits.handler.js';
import { ApiExceptionFilter } from '../errors/api-exception.filter.js';
import { created } from '../http/answers.js';
import { CommandExecutor } from './command-executor.js';
import type { CommandHandler } from './command-handler.js';
import { requestHash, type CommandContext } from './idempotency.js';
import { RecordedRefusal, RefusalRecords } from './refusals.js';
import { SnapshotStore, ledgerApiMigrations } from './snapshot.store.js';
import { ACCOUNT_FOLD, PROJECT_FOLD } from './stream-folds.js';
import { StreamStateCache } from './stream-state.cache.js';

/** Two executors on one database stand for two replicas of the service. */
describe('CommandExecutor: one answer per idempotency key across replicas', () => {
  let store: PostgresEventStore;
  let pool: pg.Pool;

  beforeAll(async () => {
    const url = await createTestDatabase('executor');
    store = await PostgresEventStore.connect({ connectionString: url });
    pool = new pg.Pool({ connectionString: url });
    await migrate(pool, ledgerApiMigrations);
  });
  afterAll(async () => {
    await store.close();
    await pool.end();
  });

  /** `afterReadAhead` runs once, after the replica's first read of the store and before it decides. */
  function replica(afterReadAhead?: () => Promise<unknown>): CommandExecutor {
    const snapshots = new SnapshotStore(pool, { warn: () => undefined });
    const filter = new ApiExceptionFilter();
    return new CommandExecutor(
      readingThen(store, afterReadAhead),
      {
        account: new StreamStateCache<AccountState>(store, ACCOUNT_FOLD, snapshots),
        project: new StreamStateCache<ProjectState>(store, PROJECT_FOLD, snapshots),
      },
      { now: () => new Date() },
      new RefusalRecords(pool),
      (v) => filter.toResponse(v),
    );
  }

  const context = (key: string): CommandContext => ({
    caller: 'svc',
    idempotencyKey: key,
    requestHash: requestHash('POST', '/x', { key }),
    correlationId: 'c',
  });

  const grant = (accountId: string) => ({ type: 'GrantCredits', accountId, amount: 5, source: 'promo' }) as const;

  /** Says no to any command on the account. */
  const refuse: CommandHandler<{ accountId: string }, 'account', never> = {
    streams: (command) => ({ account: command.accountId }),
    decide: () => {
      throw new RuleViolation('insufficient_credits', 'no');
    },
  };

  it('answers a refusal with the acceptance another replica made of the same key meanwhile', async () => {
    const accountId = `acc-${randomUUID()}`;
    const key = context(randomUUID());
    const other = replica();
    let accepted: Awaited<ReturnType<CommandExecutor['execute']>> | undefined;
    // The other replica accepts the same key after this one read ahead, and this one says no.
    const answer = await replica(async () => {
      accepted = await other.execute(key, grantCredits, grant(accountId), created);
    }).execute(key, refuse, { accountId }, created);
    expect(accepted).toMatchObject({ replayed: false });
    expect(answer).toEqual({ replayed: true, answer: accepted!.answer, position: accepted!.position });
    const { rowCount } = await pool.query('SELECT 1 FROM ledger_api.refusals WHERE idempotency_key = $1', [
      key.idempotencyKey,
    ]);
    expect(rowCount).toBe(0);
    // And every later repeat gets the acceptance too.
    await expect(replica().execute(key, grantCredits, grant(accountId), created)).resolves.toEqual(answer);
  });

  it('keeps a refusal nobody accepted, and answers repeats with it', async () => {
    const accountId = `acc-${randomUUID()}`;
    const key = context(randomUUID());
    await expect(replica().execute(key, refuse, { accountId }, created)).rejects.toBeInstanceOf(RuleViolation);
    const repeat = await replica()
      .execute(key, grantCredits, grant(accountId), created)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(repeat).toBeInstanceOf(RecordedRefusal);
    expect((repeat as RecordedRefusal).answer.status).toBe(402);
  });
});

/** The store, but its first `readStreams` runs `then` before it returns what it read. */
function readingThen(store: EventStore, then?: () => Promise<unknown>): EventStore {
  if (!then) return store;
  let pending: (() => Promise<unknown>) | undefined = then;
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (property !== 'readStreams') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: Parameters<EventStore['readStreams']>) => {
        const pages = await target.readStreams(...args);
        const run = pending;
        pending = undefined;
        await run?.();
        return pages;
      };
    },
  });
}
