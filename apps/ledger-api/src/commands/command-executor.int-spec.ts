import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { EventStore, PostgresEventStore, StreamAppend, StreamRead } from '@ledger/event-store';
import { RuleViolation, accountStream, idempotencyStream, projectStream } from '@ledger/domain';
import { debitCredits } from '../accounts/debit-credits/debit-credits.handler.js';
import { grantCredits } from '../accounts/grant-credits/grant-credits.handler.js';
import { claimProject } from '../projects/claim-project/claim-project.handler.js';
import { failProject } from '../projects/fail-project/fail-project.handler.js';
import { startProject } from '../projects/start-project/start-project.handler.js';
import { created } from '../http/answers.js';
import type { CommandExecutor } from './command-executor.js';
import type { CommandHandler } from './command-handler.js';
import type { CommandContext } from './idempotency.js';
import { RecordedRefusal } from './refusals.js';
import { commandContext, startExecutorDatabase, testExecutor, type ExecutorDatabase } from './testing/executors.js';

/** Two executors on one database stand for two replicas of the service. */
describe('CommandExecutor: one answer per idempotency key across replicas', () => {
  let db: ExecutorDatabase;
  let store: PostgresEventStore;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await startExecutorDatabase('executor');
    ({ store, pool } = db);
  });
  afterAll(() => db.close());

  /** A replica on `view` of the store (the store itself unless a test watches or delays it). */
  const replica = (view: EventStore = store) => testExecutor(db, view);
  const context = commandContext;

  const grant = (accountId: string) =>
    ({ type: 'GrantCredits', accountId, amount: 5, source: 'promo', grantId: 'promo-1' }) as const;

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
    const answer = await replica(
      readingThen(store, async () => {
        accepted = await other.execute(key, grantCredits, grant(accountId), created);
      }),
    ).execute(key, refuse, { accountId }, created);
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

  it('reads ahead the streams a handler declares with the record, and appends expecting their revisions', async () => {
    const accountId = `acc-${randomUUID()}`;
    const projectId = `prj-${randomUUID()}`;
    await replica().execute(context(randomUUID()), grantCredits, grant(accountId), created);
    const record = (key: CommandContext) => idempotencyStream(key.caller, key.idempotencyKey);
    const run = async <C, K extends 'account' | 'project', R extends object>(
      handler: CommandHandler<C, K, R>,
      command: C,
    ) => {
      const key = context(randomUUID());
      const calls: { method: string; args: unknown[] }[] = [];
      const result = await replica(recording(store, calls)).execute(key, handler, command, created);
      const [reads] = calls[0]!.args as [StreamRead[]];
      const [appends] = calls[calls.length - 1]!.args as [StreamAppend[]];
      const [secondReads] = (calls[1]?.method === 'readStreams' ? calls[1].args : [[]]) as [StreamRead[]];
      return {
        result,
        methods: calls.map((call) => call.method),
        reads: reads.map((read) => read.streamName),
        secondReads: secondReads.map((read) => read.streamName),
        appends: appends.map((append) => [append.streamName, append.expectedRevision]),
        record: record(key),
      };
    };

    const start = await run(startProject, { type: 'StartProject', projectId, accountId, cost: 5 });
    // Two round trips to the store: the read-ahead, then the append.
    expect(start.methods).toEqual(['readStreams', 'append']);
    expect(start.result).toMatchObject({ replayed: false, answer: { status: 201, body: { balance: 0 } } });
    expect(start.reads).toEqual([start.record, accountStream(accountId), projectStream(projectId)]);
    expect(start.appends).toEqual([
      [accountStream(accountId), 0n],
      [projectStream(projectId), 'no_stream'],
      [start.record, 'no_stream'],
    ]);

    // A cancel reads the project ahead, then, in its payer's queue, the project's tail and the
    // account (only the project names it): the refund returns to the lots the start drew, so
    // it is fenced by the account's revision. Still three round trips.
    const cancel = await run(failProject, { type: 'FailProject', projectId, errorMessage: 'not needed' });
    expect(cancel.methods).toEqual(['readStreams', 'readStreams', 'append']);
    expect(cancel.secondReads).toEqual([cancel.record, projectStream(projectId), accountStream(accountId)]);
    expect(cancel.result).toMatchObject({ replayed: false, answer: { body: { status: 'failed', refunded: 5 } } });
    expect(cancel.reads).toEqual([cancel.record, projectStream(projectId)]);
    expect(cancel.appends).toEqual([
      [accountStream(accountId), 1n],
      [projectStream(projectId), 0n],
      [cancel.record, 'no_stream'],
    ]);
  });

  it("reads a project's payer ahead with the project once the project is in memory: two round trips", async () => {
    const accountId = `acc-${randomUUID()}`;
    const projectId = `prj-${randomUUID()}`;
    const calls: { method: string; args: unknown[] }[] = [];
    const warm = replica(recording(store, calls));
    await warm.execute(context(randomUUID()), grantCredits, grant(accountId), created);
    await warm.execute(
      context(randomUUID()),
      startProject,
      { type: 'StartProject', projectId, accountId, cost: 5 },
      created,
    );
    // The claim loads the started project into memory; the worker's failure then names its payer.
    const claim = { type: 'ClaimProject', projectId, workerId: 'w1', leaseSeconds: 60 } as const;
    await warm.execute(context(randomUUID()), claimProject, claim, created);
    calls.length = 0;
    const key = context(randomUUID());
    const cancel = await warm.execute(
      key,
      failProject,
      { type: 'FailProject', projectId, attempt: 1, errorMessage: 'no' },
      created,
    );
    expect(cancel).toMatchObject({ replayed: false, answer: { body: { status: 'failed', refunded: 5 } } });
    expect(calls.map((call) => call.method)).toEqual(['readStreams', 'append']);
    const [reads] = calls[0]!.args as [StreamRead[]];
    expect(reads.map((read) => read.streamName)).toEqual([
      idempotencyStream(key.caller, key.idempotencyKey),
      projectStream(projectId),
      accountStream(accountId),
    ]);
    const [appends] = calls[1]!.args as [StreamAppend[]];
    expect(appends.map((append) => [append.streamName, append.expectedRevision])).toEqual([
      [accountStream(accountId), 1n],
      [projectStream(projectId), 1n],
      [idempotencyStream(key.caller, key.idempotencyKey), 'no_stream'],
    ]);
  });

  it("fences a refund by the payer's revision: a debit on another replica in between makes it decide again", async () => {
    const accountId = `acc-${randomUUID()}`;
    const projectId = `prj-${randomUUID()}`;
    await replica().execute(context(randomUUID()), grantCredits, grant(accountId), created);
    const start = { type: 'StartProject', projectId, accountId, cost: 3 } as const;
    await replica().execute(context(randomUUID()), startProject, start, created);
    // The other replica spends the rest of the lot after this one decided, before it appends.
    const debit = { type: 'DebitCredits', accountId, amount: 2, reason: 'fee' } as const;
    const appends: bigint[] = [];
    const racing = replica(
      appendingAfter(store, appends, () => replica().execute(context(randomUUID()), debitCredits, debit, created)),
    );
    const cancel = { type: 'FailProject', projectId, errorMessage: 'no' } as const;
    const result = await racing.execute(context(randomUUID()), failProject, cancel, created);
    expect(result).toMatchObject({ replayed: false, answer: { body: { status: 'failed', refunded: 3 } } });
    // The first append expected the account after the start (revision 1) and conflicted.
    expect(appends).toEqual([1n, 2n]);
    const events = await store.readStream(accountStream(accountId), { limit: 10 });
    expect(events.map((e) => [e.type, e.data.amount])).toEqual([
      ['CreditsGranted', 5],
      ['Debited', 3],
      ['Debited', 2],
      ['Refunded', 3],
    ]);
  });
});

/** The store, recording each call of its methods. */
function recording(store: EventStore, calls: { method: string; args: unknown[] }[]): EventStore {
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push({ method: String(property), args });
        return value.apply(target, args) as unknown;
      };
    },
  });
}

/**
 * The store, but its first `append` runs `then` before it appends; `expected` collects the
 * revision each append expects of the first stream it names (the account, for a refund).
 */
function appendingAfter(store: EventStore, expected: bigint[], then: () => Promise<unknown>): EventStore {
  let pending: (() => Promise<unknown>) | undefined = then;
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (property !== 'append') return typeof value === 'function' ? value.bind(target) : value;
      return async (appends: StreamAppend[]) => {
        expected.push(appends[0]!.expectedRevision as bigint);
        const run = pending;
        pending = undefined;
        await run?.();
        return target.append(appends);
      };
    },
  });
}

/** The store, but its first `readStreams` runs `then` before it returns what it read. */
function readingThen(store: EventStore, then: () => Promise<unknown>): EventStore {
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
