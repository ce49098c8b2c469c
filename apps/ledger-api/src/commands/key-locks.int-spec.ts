import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { StoreUnavailableError, type EventStore, type PostgresEventStore } from '@ledger/event-store';
import { accountStream, idempotencyStream } from '@ledger/domain';
import { within } from '@ledger/test-support';
import { debitCredits } from '../accounts/debit-credits/debit-credits.handler.js';
import { grantCredits } from '../accounts/grant-credits/grant-credits.handler.js';
import { ApiError } from '../errors/api-error.js';
import { created } from '../http/answers.js';
import type { CommandExecutor } from './command-executor.js';
import { requestHash, type CommandContext } from './idempotency.js';
import { KEY_LOCKS_APPLICATION, KeyLocks, lockOf, type KeyClaim } from './key-locks.js';
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

  /** Ends the lock session holding `key`'s lock, as PostgreSQL sees a replica that died or was cut off. */
  async function endLockSessionOf(key: CommandContext): Promise<void> {
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
  }

  /** Runs `key` on `other` until it is not answered request_in_flight (the key let go). */
  async function takeKey(
    other: CommandExecutor,
    key: CommandContext,
    accountId: string,
    amount: number,
  ): Promise<unknown> {
    let taken: unknown;
    await within(RELEASE_BOUND_MS, async () => {
      taken = await other.execute(key, debitCredits, debit(accountId, amount), created).catch((e: unknown) => e);
      return !(taken instanceof ApiError && taken.code === 'request_in_flight');
    });
    return taken;
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

  it('lets a key go when the read beside its claim fails before the claim answers', async () => {
    const accountId = `acc-${randomUUID()}`;
    await replica().execute(context(randomUUID()), grantCredits, grant(accountId), created);
    const key = context(randomUUID());
    // The store read fails at once, so the batch ends while its claim is still on its way (it then takes the lock).
    const failed = await replica(readFailingOnce(store))
      .execute(key, debitCredits, debit(accountId, 5), created)
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(StoreUnavailableError);
    expect((failed as Error).message).toContain('injected');
    // The failed replica let the key go once its claim came back: another one takes it.
    const taken = await takeKey(replica(), key, accountId, 5);
    expect(taken).toMatchObject({ replayed: false, answer: { status: 201 } });
    expect(await applied(accountId, key.idempotencyKey)).toBe(1);
  });

  it('keeps no refusal once its lock session is known lost: the replica that takes the key may accept it', async () => {
    const accountId = `acc-${randomUUID()}`;
    await replica().execute(context(randomUUID()), grantCredits, grant(accountId), created);
    const key = context(randomUUID());
    const locksA = new KeyLocks(url);
    const appending = deferred();
    const appendMay = deferred();
    // B holds the key, has accepted it, and appends only when told.
    const b = replica(
      appendingThen(store, async () => {
        appending.resolve();
        await appendMay.promise;
      }),
    );
    let bAnswer: Promise<unknown> | undefined;
    // A has refused the key (not enough credits) and is about to keep the refusal.
    const aView = readingRecordThen(store, idempotencyStream(key.caller, key.idempotencyKey), async () => {
      const probe: KeyClaim = await locksA.claim(context(randomUUID()));
      expect(probe.held).toBe(true);
      // A's lock session dies (a network cut) and A sees it; B then takes the key, after a grant.
      await endLockSessionOf(key);
      expect(await within(RELEASE_BOUND_MS, () => Promise.resolve(!locksA.stillHeld(probe)))).toBeDefined();
      await replica().execute(context(randomUUID()), grantCredits, grant(accountId), created);
      bAnswer = takeKey(b, key, accountId, 6);
      await appending.promise;
    });
    const aAnswer = await replica(aView, locksA)
      .execute(key, debitCredits, debit(accountId, 6), created)
      .catch((e: unknown) => e);
    appendMay.resolve();
    expect(await bAnswer).toMatchObject({ replayed: false, answer: { status: 201 } });
    // Without its lock, A's answer is "retry" (503), not a 402 the key's answer (B's 201) contradicts.
    expect(aAnswer).toBeInstanceOf(StoreUnavailableError);
    expect((aAnswer as Error).message).toContain('lock session');
    const { rows } = await pool.query('SELECT 1 FROM ledger_api.refusals WHERE caller = $1 AND idempotency_key = $2', [
      key.caller,
      key.idempotencyKey,
    ]);
    expect(rows).toHaveLength(0);
    expect(await applied(accountId, key.idempotencyKey)).toBe(1);
  });

  it('lets a key go with its next claim (no statement of its own), never freeing one claimed again meanwhile', async () => {
    // A key let go waits an hour for a claim to carry it: only a claim can let it go here.
    const locks = new KeyLocks(url, 3_600_000);
    const other = new KeyLocks(url);
    sessions.push(locks, other);
    const [first, again, next] = [context(randomUUID()), context(randomUUID()), context(randomUUID())];
    const firstClaim = await locks.claim(first);
    const againClaim = await locks.claim(again);
    expect([firstClaim.held, againClaim.held]).toEqual([true, true]);
    locks.release([firstClaim, againClaim]);
    // Nothing was sent for them yet: both are still held.
    expect(await other.claim(first)).toMatchObject({ held: false });
    expect(await other.claim(again)).toMatchObject({ held: false });
    // The next claim takes `again` once more (before it lets the first claim of it go) and `next`.
    const [retaken, nextClaim] = await Promise.all([locks.claim(again), locks.claim(next)]);
    expect([retaken.held, nextClaim.held]).toEqual([true, true]);
    // It let `first` go; `again` stays held by the claim that took it again.
    const taken = await other.claim(first);
    expect(taken.held).toBe(true);
    other.release([taken]);
    expect(await other.claim(again)).toMatchObject({ held: false });
    expect(await other.claim(next)).toMatchObject({ held: false });
  });

  it('never lets go, on a new lock session, a lock whose release was asked for on the lost one', async () => {
    const locks = new KeyLocks(url);
    const other = new KeyLocks(url);
    sessions.push(locks, other);
    const [first, held, retried] = [context(randomUUID()), context(randomUUID()), context(randomUUID())];
    const firstClaim = await locks.claim(first);
    const heldClaim = await locks.claim(held);
    // The first release's statement stays on its way (as on a session that stops answering), so
    // the next release waits behind it while the session is lost and another one opened.
    const sent = deferred();
    const mayRun = deferred();
    const release = holdingFirstRelease(sent, mayRun.promise);
    try {
      locks.release([firstClaim]);
      await sent.promise;
      locks.release([heldClaim]);
      await endLockSessionOf(held);
      expect(await within(RELEASE_BOUND_MS, () => Promise.resolve(!locks.stillHeld(heldClaim)))).toBeDefined();
      // A retry takes the key again on the new session, and holds it while it runs.
      const again = await locks.claim(held);
      expect(again).toMatchObject({ held: true });
      const retriedClaim = await locks.claim(retried);
      locks.release([retriedClaim]);
      mayRun.resolve();
      // The releases waiting went out (the retried key's lock is let go)...
      expect(
        await within(RELEASE_BOUND_MS, async () => {
          const claim = await other.claim(retried);
          if (claim.held) other.release([claim]);
          return claim.held;
        }),
      ).toBeDefined();
      // ...and the lost session's one did not let go of the key the retry holds.
      expect(await other.claim(held)).toMatchObject({ held: false });
    } finally {
      release.restore();
    }
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

/** The store, failing its first read of several streams at once (the read beside the claims). */
function readFailingOnce(store: EventStore): EventStore {
  let failed = false;
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (property !== 'readStreams') return typeof value === 'function' ? value.bind(target) : value;
      return (...args: Parameters<EventStore['readStreams']>) => {
        if (failed) return target.readStreams(...args);
        failed = true;
        return Promise.reject(new StoreUnavailableError('the read failed (injected)'));
      };
    },
  });
}

/** The store, running `then` before its first read of `streamName` alone (a refusal looks the acceptance up). */
function readingRecordThen(store: EventStore, streamName: string, then: () => Promise<unknown>): EventStore {
  let pending: (() => Promise<unknown>) | undefined = then;
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (property !== 'readStream') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: Parameters<EventStore['readStream']>) => {
        if (args[0] === streamName) {
          const run = pending;
          pending = undefined;
          await run?.();
        }
        return target.readStream(...args);
      };
    },
  });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Holds the first release statement sent by any client until `mayRun`: `sent` says it was
 * sent. `restore` puts pg's query back.
 */
function holdingFirstRelease(sent: { resolve: () => void }, mayRun: Promise<void>): { restore(): void } {
  const query = pg.Client.prototype.query;
  let held = false;
  // pg's query has many overloads; the release is sent as a config object with its name.
  const patched = function (this: pg.Client, ...args: unknown[]): unknown {
    const config = args[0] as { name?: string } | undefined;
    if (!held && config?.name === 'ledger_api.release_keys') {
      held = true;
      sent.resolve();
      return mayRun.then(() => (query as (...a: unknown[]) => unknown).apply(this, args));
    }
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  };
  pg.Client.prototype.query = patched as typeof query;
  return {
    restore: () => {
      pg.Client.prototype.query = query;
    },
  };
}
