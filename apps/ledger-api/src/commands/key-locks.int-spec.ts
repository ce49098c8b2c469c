import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { StoreUnavailableError, type EventStore, type PostgresEventStore } from '@ledger/event-store';
import { accountStream } from '@ledger/domain';
import { within } from '@ledger/test-support';
import { debitCredits } from '../accounts/debit-credits/debit-credits.handler.js';
import { grantCredits } from '../accounts/grant-credits/grant-credits.handler.js';
import { ApiError } from '../errors/api-error.js';
import { created } from '../http/answers.js';
import type { CommandExecutor } from './command-executor.js';
import { requestHash, type CommandContext } from './idempotency.js';
import { KEY_LOCKS_APPLICATION, KeyLocks, lockOf } from './key-locks.js';
import { RecordedRefusal } from './refusals.js';
import { startExecutorDatabase, testExecutor, type ExecutorDatabase } from './testing/executors.js';

const RELEASE_BOUND_MS = 5_000;

/** Replicas with a lock session each, on one database: a key runs on one of them at a time. */
describe('KeyLocks: one replica at a time runs a key', () => {
  let db: ExecutorDatabase;
  let url: string;
  let store: PostgresEventStore;
  let pool: pg.Pool;
  const sessions: KeyLocks[] = [];

  beforeAll(async () => {
    db = await startExecutorDatabase('key_locks');
    ({ url, store, pool } = db);
    pool.on('error', () => undefined);
  });
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await db.close();
  });

  function replica(view: EventStore = store, keyLocks = new KeyLocks(url)): CommandExecutor {
    sessions.push(keyLocks);
    return testExecutor({ pool, keyLocks }, view);
  }

  const context = (key: string): CommandContext => ({
    caller: 'svc',
    idempotencyKey: key,
    requestHash: requestHash('POST', '/x', { key }),
    correlationId: 'c',
  });
  const grant = (accountId: string, amount = 5) =>
    ({ type: 'GrantCredits', accountId, amount, source: 'promo', grantId: `g-${randomUUID()}` }) as const;
  const debit = (accountId: string, amount: number) =>
    ({ type: 'DebitCredits', accountId, amount, reason: 'all of it' }) as const;

  async function applied(accountId: string, key: string): Promise<number> {
    const events = await store.readStream(accountStream(accountId));
    return events.filter((e) => e.type !== 'CreditsGranted' && e.metadata.idempotencyKey === key).length;
  }

  it('answers a repeat on another replica 409 request_in_flight while the first runs, then the first answer', async () => {
    const accountId = `acc-${randomUUID()}`;
    await replica().execute(context(randomUUID()), grantCredits, grant(accountId), created);
    const key = context(randomUUID());
    const other = replica();
    let meanwhile: unknown;
    // The other replica gets the key while this one has decided it and not appended it yet.
    const first = await replica(
      appendingThen(store, async () => {
        meanwhile = await other.execute(key, debitCredits, debit(accountId, 5), created).catch((e: unknown) => e);
      }),
    ).execute(key, debitCredits, debit(accountId, 5), created);
    expect(meanwhile).toBeInstanceOf(ApiError);
    expect(meanwhile).toMatchObject({ status: 409, code: 'request_in_flight', headers: { 'retry-after': '1' } });
    expect(first).toMatchObject({ replayed: false, answer: { status: 201 } });
    // Once the first is answered (its lock let go, not waited for), the other replica answers with it.
    let again: unknown;
    await within(RELEASE_BOUND_MS, async () => {
      again = await other.execute(key, debitCredits, debit(accountId, 5), created).catch((e: unknown) => e);
      return !(again instanceof ApiError && again.code === 'request_in_flight');
    });
    expect(again).toEqual({ replayed: true, answer: first.answer, position: first.position });
    expect(await applied(accountId, key.idempotencyKey)).toBe(1);
  });

  it("answers a repeat with the refusal another replica kept, read after the key's lock", async () => {
    const accountId = `acc-${randomUUID()}`;
    await replica().execute(context(randomUUID()), grantCredits, grant(accountId), created);
    const key = context(randomUUID());
    const refused = await replica()
      .execute(key, debitCredits, debit(accountId, 6), created)
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'insufficient_credits' });
    // Enough credits now: the key's answer is still the refusal, on another replica.
    await replica().execute(context(randomUUID()), grantCredits, grant(accountId), created);
    const repeat = await replica()
      .execute(key, debitCredits, debit(accountId, 6), created)
      .catch((e: unknown) => e);
    expect(repeat).toBeInstanceOf(RecordedRefusal);
    expect((repeat as RecordedRefusal).answer).toMatchObject({
      status: 402,
      body: { error: { code: 'insufficient_credits' } },
    });
    expect(await applied(accountId, key.idempotencyKey)).toBe(0);
  });

  it('frees the keys of a replica whose lock session ends (a crash), and appends nothing of what it held', async () => {
    const accountId = `acc-${randomUUID()}`;
    await replica().execute(context(randomUUID()), grantCredits, grant(accountId), created);
    const key = context(randomUUID());
    const other = replica();
    let taken: unknown;
    const held = await replica(
      appendingThen(store, async () => {
        // As PostgreSQL sees a process that died: its session ends, and its advisory locks with it.
        // The session holding this key's lock (a one-key advisory lock shows its high and low 32 bits).
        const lock = BigInt.asUintN(64, lockOf(key));
        const { rows } = await pool.query<{ pid: number }>(
          `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.classid = $2 AND l.objid = $3
             AND a.application_name = $1 AND a.datname = current_database()`,
          [KEY_LOCKS_APPLICATION, String(lock >> 32n), String(lock & 0xffffffffn)],
        );
        expect(rows).toHaveLength(1);
        await pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        // The other replica takes the key as soon as the server let it go.
        await within(RELEASE_BOUND_MS, async () => {
          taken = await other.execute(key, debitCredits, debit(accountId, 5), created).catch((e: unknown) => e);
          return !(taken instanceof ApiError && taken.code === 'request_in_flight');
        });
      }),
    )
      .execute(key, debitCredits, debit(accountId, 5), created)
      .catch((e: unknown) => e);
    expect(taken).toMatchObject({ replayed: false, answer: { status: 201 } });
    // The replica that lost its lock appended nothing: it says so (503, retry with the key) or,
    // if it had not seen the loss yet, its append conflicted with the other's and it answers with it.
    if (held instanceof StoreUnavailableError) expect(held.message).toContain('lock session');
    else
      expect(held).toEqual({
        replayed: true,
        answer: (taken as { answer: unknown }).answer,
        position: expect.anything(),
      });
    expect(await applied(accountId, key.idempotencyKey)).toBe(1);
  });
});

/** The store, running `then` before its first append (after the command was decided, before it is stored). */
function appendingThen(store: EventStore, then: () => Promise<unknown>): EventStore {
  let pending: (() => Promise<unknown>) | undefined = then;
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (property !== 'append') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: Parameters<EventStore['append']>) => {
        const run = pending;
        pending = undefined;
        await run?.();
        return target.append(...args);
      };
    },
  });
}
