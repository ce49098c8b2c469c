import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { VersionConflictError, type EventStore, type PostgresEventStore, type StreamAppend } from '@ledger/event-store';
import { accountStream, projectStream, type AccountState } from '@ledger/domain';
import { grantCredits } from '../accounts/grant-credits/grant-credits.handler.js';
import { failProject } from '../projects/fail-project/fail-project.handler.js';
import { startProject } from '../projects/start-project/start-project.handler.js';
import { created } from '../http/answers.js';
import type { CommandExecutorOptions, StateCaches } from './command-executor.js';
import { onAccount, onProjectAndPayer } from './command-handler.js';
import {
  commandContext,
  stateCachesOf,
  startExecutorDatabase,
  testExecutor,
  type ExecutorDatabase,
} from './testing/executors.js';

describe('CommandExecutor: what a decision writes', () => {
  let db: ExecutorDatabase;
  let store: PostgresEventStore;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await startExecutorDatabase('executor_decisions');
    ({ store, pool } = db);
  });
  afterAll(() => db.close());

  const cachesOf = (view: EventStore) => stateCachesOf(pool, view);
  const replica = (
    view: EventStore = store,
    caches: StateCaches = cachesOf(view),
    options: CommandExecutorOptions = {},
  ) => testExecutor(db, view, { caches, options });
  const context = commandContext;

  /** The account as a cold load folds it from the store. */
  async function accountOf(accountId: string): Promise<AccountState> {
    return (await cachesOf(store).account.load(accountStream(accountId))).state;
  }

  const PROJECTS = 200;
  const COST = 5;

  describe.each([
    ['whose projects it holds in memory (payer known before reading)', 'warm'],
    ['whose projects it has not read yet (payer learnt from the project)', 'cold'],
  ] as const)('refunds on one account, in one replica %s', (_, cache) => {
    it(`queues ${PROJECTS} concurrent cancels on the account instead of conflicting: all accepted, each refunded once`, async () => {
      const accountId = `acc-${randomUUID()}`;
      const projectIds = Array.from({ length: PROJECTS }, () => `prj-${randomUUID()}`);
      const conflicts: string[] = [];
      const view = countingConflicts(store, conflicts);
      const starter = replica(view);
      await starter.execute(
        context(),
        grantCredits,
        { type: 'GrantCredits', accountId, amount: PROJECTS * COST, source: 'purchase', grantId: 'bought-1' },
        created,
      );
      await Promise.all(
        projectIds.map((projectId) =>
          starter.execute(context(), startProject, { type: 'StartProject', projectId, accountId, cost: COST }, created),
        ),
      );
      expect((await accountOf(accountId)).balance).toBe(0);
      expect(conflicts).toEqual([]);
      // Warm: the replica that started the projects (they are in its memory); cold: a fresh one.
      const canceller = cache === 'warm' ? starter : replica(view);
      const settled = await Promise.allSettled(
        projectIds.map((projectId) =>
          canceller.execute(
            context(),
            failProject,
            { type: 'FailProject', projectId, errorMessage: 'not needed' },
            created,
          ),
        ),
      );
      const refused = settled.filter((s) => s.status === 'rejected');
      expect(refused.map((s) => String((s as PromiseRejectedResult).reason))).toEqual([]);
      for (const s of settled) {
        expect(s).toMatchObject({
          status: 'fulfilled',
          value: { replayed: false, answer: { status: 201, body: { status: 'failed', refunded: COST } } },
        });
      }
      // One replica: the account's queue leaves nothing to conflict.
      expect(conflicts).toEqual([]);

      const events = await store.readStream(accountStream(accountId), { limit: 10 * PROJECTS });
      const refunds = events.filter((e) => e.type === 'Refunded');
      expect(refunds).toHaveLength(PROJECTS);
      expect(new Set(refunds.map((e) => e.data.projectId))).toEqual(new Set(projectIds));
      const account = await accountOf(accountId);
      expect(account.balance).toBe(PROJECTS * COST);
      expect(account.totalRefunded).toBe(PROJECTS * COST);
    });
  });

  it('folds a decision on the states it read before appending: a decision that breaks an invariant appends nothing', async () => {
    const accountId = `acc-${randomUUID()}`;
    const executor = replica();
    await executor.execute(
      context(),
      grantCredits,
      { type: 'GrantCredits', accountId, amount: 5, source: 'promo', grantId: 'promo-1' },
      created,
    );
    // A domain bug: a debit of more than the lot holds.
    const overdraw = onAccount<{ accountId: string; now: Date }, { ok: true }>(() => ({
      account: [
        {
          type: 'Debited',
          data: { amount: 8, reason: 'fee', lots: [{ grantId: 'promo-1', amount: 8 }] },
        },
      ],
      reply: { ok: true },
    }));
    const key = context();
    await expect(executor.execute(key, overdraw, { accountId }, created)).rejects.toThrow();
    const events = await store.readStream(accountStream(accountId), { limit: 10 });
    expect(events.map((e) => e.type)).toEqual(['CreditsGranted']);
    // The key was not recorded as accepted, and the account still folds and takes commands.
    const again = await executor.execute(
      key,
      grantCredits,
      { type: 'GrantCredits', accountId, amount: 1, source: 'promo', grantId: 'promo-2' },
      created,
    );
    expect(again).toMatchObject({ replayed: false });
    expect((await accountOf(accountId)).balance).toBe(6);
  });

  it('keeps in memory the state the store keeps: a value JSON cannot hold folds as stored, warm and cold alike', async () => {
    const accountId = `acc-${randomUUID()}`;
    const projectId = `prj-${randomUUID()}`;
    const caches = cachesOf(store);
    const warm = replica(store, caches);
    await warm.execute(
      context(),
      grantCredits,
      { type: 'GrantCredits', accountId, amount: 10, source: 'purchase', grantId: 'bought-1' },
      created,
    );
    // A decision that carries a number JSON can't hold (validation refuses it at the door; this is past it).
    const infinite: typeof startProject = {
      ...startProject,
      decide: (states, command, now) => {
        const decision = startProject.decide(states, command, now);
        return {
          ...decision,
          project: decision.project?.map((e) =>
            e.type === 'ProjectStarted' ? { ...e, data: { ...e.data, metadata: { x: Infinity } } } : e,
          ),
        };
      },
    };
    await warm.execute(context(), infinite, { type: 'StartProject', projectId, accountId, cost: 3 }, created);
    const stored = await store.readStream(projectStream(projectId), { limit: 10 });
    expect(stored[0]!.data.metadata).toEqual({ x: null });
    const cold = await cachesOf(store).project.load(projectStream(projectId));
    expect(caches.project.peek(projectStream(projectId))).toEqual(cold.state);
  });

  it("fails only the command whose stream can't be loaded, not the others of its batch", async () => {
    const accountId = `acc-${randomUUID()}`;
    const projectId = `prj-${randomUUID()}`;
    // A project stream its fold refuses (a claim before any start: a legacy or foreign stream).
    await store.append([
      {
        streamName: projectStream(projectId),
        expectedRevision: 'no_stream',
        events: [
          {
            id: randomUUID(),
            type: 'ProjectClaimed',
            data: { attempt: 1, workerId: 'w', leaseExpiresAt: new Date().toISOString() },
          },
        ],
      },
    ]);
    const batches: number[] = [];
    const executor = replica(store, cachesOf(store), { onBatch: (size) => batches.push(size) });
    const grant = (grantId: string) =>
      executor.execute(
        context(),
        grantCredits,
        { type: 'GrantCredits', accountId, amount: 5, source: 'purchase', grantId },
        created,
      );
    const [g0, bad, g1] = await Promise.allSettled([
      grant('g0'),
      executor.execute(context(), startProject, { type: 'StartProject', projectId, accountId, cost: 1 }, created),
      grant('g1'),
    ]);
    // The start shared its batch with a grant.
    expect(Math.max(...batches)).toBeGreaterThan(1);
    expect(bad).toMatchObject({ status: 'rejected' });
    for (const granted of [g0, g1]) {
      expect(granted).toMatchObject({ status: 'fulfilled', value: { replayed: false, answer: { status: 201 } } });
    }
    expect((await accountOf(accountId)).balance).toBe(10);
  });

  it('a refund of more than the project drew fails before anything is appended, to the project or its payer', async () => {
    const accountId = `acc-${randomUUID()}`;
    const projectId = `prj-${randomUUID()}`;
    const executor = replica();
    await executor.execute(
      context(),
      grantCredits,
      { type: 'GrantCredits', accountId, amount: 10, source: 'purchase', grantId: 'bought-1' },
      created,
    );
    await executor.execute(context(), startProject, { type: 'StartProject', projectId, accountId, cost: 3 }, created);
    // A domain bug: the failure refunds 7 of the 3 drawn.
    const overRefund = onProjectAndPayer<{ projectId: string; now: Date }, { ok: true }>((_, project) => ({
      accountId: project.status === 'none' ? undefined : project.accountId,
      account: [
        {
          type: 'Refunded',
          data: { amount: 7, projectId, reason: 'project_failed', lots: [{ grantId: 'bought-1', amount: 7 }] },
        },
      ],
      project: [{ type: 'ProjectFailed', data: { code: 'failed', errorMessage: 'x' } }],
      reply: { ok: true },
    }));
    const appends: StreamAppend[][] = [];
    await expect(
      replica(watchingAppends(store, appends)).execute(context(), overRefund, { projectId }, created),
    ).rejects.toThrow();
    expect(appends).toEqual([]);
    expect((await store.readStream(accountStream(accountId), { limit: 10 })).map((e) => e.type)).toEqual([
      'CreditsGranted',
      'Debited',
    ]);
    expect((await store.readStream(projectStream(projectId), { limit: 10 })).map((e) => e.type)).toEqual([
      'ProjectStarted',
    ]);
    // The real failure still refunds what was drawn.
    const fail = await executor.execute(
      context(),
      failProject,
      { type: 'FailProject', projectId, errorMessage: 'no' },
      created,
    );
    expect(fail).toMatchObject({ replayed: false, answer: { body: { status: 'failed', refunded: 3 } } });
    expect((await accountOf(accountId)).balance).toBe(10);
  });
});

/** The store, collecting the streams each version conflict of an append names. */
function countingConflicts(store: EventStore, conflicts: string[]): EventStore {
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (property !== 'append') return typeof value === 'function' ? value.bind(target) : value;
      return async (appends: StreamAppend[]) => {
        try {
          return await target.append(appends);
        } catch (error) {
          if (error instanceof VersionConflictError) conflicts.push(...error.conflicts.map((c) => c.streamName));
          throw error;
        }
      };
    },
  });
}

/** The store, collecting what each append was asked to write. */
function watchingAppends(store: EventStore, appends: StreamAppend[][]): EventStore {
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (property !== 'append') return typeof value === 'function' ? value.bind(target) : value;
      return (batch: StreamAppend[]) => {
        appends.push(batch);
        return target.append(batch);
      };
    },
  });
}
