import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { StoreUnavailableError, type EventStore, type PostgresEventStore } from '@ledger/event-store';
import { RuleViolation, accountStream, idempotencyStream } from '@ledger/domain';
import { debitCredits } from '../accounts/debit-credits/debit-credits.handler.js';
import { grantCredits } from '../accounts/grant-credits/grant-credits.handler.js';
import { voidGrant } from '../accounts/void-grant/void-grant.handler.js';
import { claimProject } from '../projects/claim-project/claim-project.handler.js';
import { completeProject } from '../projects/complete-project/complete-project.handler.js';
import { failProject } from '../projects/fail-project/fail-project.handler.js';
import { startProject } from '../projects/start-project/start-project.handler.js';
import { ApiError } from '../errors/api-error.js';
import { created } from '../http/answers.js';
import type { CommandExecutor } from './command-executor.js';
import { requestHash, type CommandContext } from './idempotency.js';
import { RecordedRefusal } from './refusals.js';
import { startExecutorDatabase, testExecutor, type ExecutorDatabase } from './testing/executors.js';

/**
 * Batched decisions on one stream: the commands that wait in an account's queue are
 * decided together and appended in one append, and each must get exactly the answer
 * it would have had alone. Random waves of commands go to one executor all at once
 * (batched) and to another one at a time, in the order the first one's queue received
 * them, on twin accounts; every answer and every stored event must be the same.
 */
describe('CommandExecutor: a batch answers each command as it would have been answered alone', () => {
  let db: ExecutorDatabase;
  let store: PostgresEventStore;
  const now = new Date('2026-12-01T00:00:00.000Z');
  const batches: number[] = [];

  beforeAll(async () => {
    db = await startExecutorDatabase('executor_batching');
    ({ store } = db);
  });
  afterAll(() => db.close());

  const executor = (batchMax: number, view: EventStore = store) =>
    testExecutor(db, view, {
      clock: { now: () => now },
      options: { batchMax, onBatch: (size) => batchMax > 1 && batches.push(size) },
    });

  /** A command of the model, on account `A` and projects `P<n>`; `key` names its Idempotency-Key. */
  type Step =
    | { kind: 'grant'; key: number; amount: number; grant: number }
    | { kind: 'debit'; key: number; amount: number }
    | { kind: 'void'; key: number; grant: number }
    | { kind: 'start'; key: number; project: number; cost: number }
    | { kind: 'fail'; key: number; project: number }
    | { kind: 'complete'; key: number; project: number; used: number };

  const key = fc.integer({ min: 0, max: 40 });
  const direct = fc.oneof(
    fc.record({
      kind: fc.constant('grant' as const),
      key,
      amount: fc.integer({ min: 1, max: 12 }),
      grant: fc.integer({ min: 0, max: 3 }),
    }),
    fc.record({ kind: fc.constant('debit' as const), key, amount: fc.integer({ min: 1, max: 9 }) }),
    fc.record({ kind: fc.constant('void' as const), key, grant: fc.integer({ min: 0, max: 3 }) }),
    fc.record({
      kind: fc.constant('start' as const),
      key,
      project: fc.integer({ min: 4, max: 12 }),
      cost: fc.integer({ min: 1, max: 9 }),
    }),
  );
  // Commands that refund, on the projects started before the waves (one per project in a wave:
  // a second one would wait for the first in its project's queue, outside the account's).
  const refund = fc.oneof(
    fc.record({ kind: fc.constant('fail' as const), key, project: fc.integer({ min: 0, max: 3 }) }),
    fc.record({
      kind: fc.constant('complete' as const),
      key,
      project: fc.integer({ min: 0, max: 3 }),
      used: fc.integer({ min: 0, max: 3 }),
    }),
  );
  const wave = fc.record({
    direct: fc.array(direct, { minLength: 1, maxLength: 10 }),
    refunds: fc.uniqueArray(refund, { maxLength: 4, selector: (step) => step.project }),
  });

  /** Runs the waves on fresh ids; the answers, with the run's ids written as `A` and `P<n>`. */
  async function play(exec: CommandExecutor, waves: { direct: Step[]; refunds: Step[] }[], together: boolean) {
    const run = randomUUID().slice(0, 8);
    const accountId = `acc-${run}`;
    const projectId = (n: number) => `prj-${run}-${n}`;
    const context = (k: string): CommandContext => ({
      caller: 'svc',
      idempotencyKey: `${run}-${k}`,
      requestHash: requestHash('POST', '/x', { k }),
      correlationId: 'c',
    });
    const send = (k: string, step: Step) => {
      // The same key with the same command is a repeat; with another, a reused key.
      const ctx = { ...context(k), requestHash: requestHash('POST', '/x', step) };
      switch (step.kind) {
        case 'grant':
          return exec.execute(
            ctx,
            grantCredits,
            {
              type: 'GrantCredits',
              accountId,
              amount: step.amount,
              source: 'purchase',
              grantId: `g${step.grant}`,
              // Lots with different priorities and expiries, so the spending order matters.
              priority: 10 * step.grant,
              ...(step.grant % 2 === 1 && {
                expiresAt: new Date(now.getTime() + 3_600_000 * step.grant).toISOString(),
              }),
            },
            created,
          );
        case 'debit':
          return exec.execute(
            ctx,
            debitCredits,
            { type: 'DebitCredits', accountId, amount: step.amount, reason: 'r' },
            created,
          );
        case 'void':
          return exec.execute(
            ctx,
            voidGrant,
            { type: 'VoidGrant', accountId, grantId: `g${step.grant}`, reason: 'r' },
            created,
          );
        case 'start':
          return exec.execute(
            ctx,
            startProject,
            { type: 'StartProject', projectId: projectId(step.project), accountId, cost: step.cost },
            created,
          );
        case 'fail':
          return exec.execute(
            ctx,
            failProject,
            { type: 'FailProject', projectId: projectId(step.project), errorMessage: 'e' },
            created,
          );
        case 'complete':
          return exec.execute(
            ctx,
            completeProject,
            { type: 'CompleteProject', projectId: projectId(step.project), attempt: 1, creditsUsed: step.used },
            created,
          );
      }
    };
    const normal = (value: unknown) =>
      JSON.parse(
        JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
          .replaceAll(`acc-${run}`, 'A')
          .replaceAll(`prj-${run}-`, 'P'),
      );
    const settle = (promise: Promise<unknown>) =>
      promise.then(
        (result) => {
          const { answer, replayed } = result as { answer: unknown; replayed: boolean };
          return normal({ answer, replayed });
        },
        (error: unknown) => normal(describeError(error)),
      );

    // Before the waves: lots, and four projects (two of them claimed) for refunds to go back from.
    await exec.execute(
      context('setup-grant'),
      grantCredits,
      { type: 'GrantCredits', accountId, amount: 12, source: 'purchase', grantId: 'g-setup' },
      created,
    );
    for (let n = 0; n < 4; n++) {
      await exec.execute(
        context(`setup-start-${n}`),
        startProject,
        { type: 'StartProject', projectId: projectId(n), accountId, cost: 2 },
        created,
      );
      if (n < 2) {
        await exec.execute(
          context(`setup-claim-${n}`),
          claimProject,
          { type: 'ClaimProject', projectId: projectId(n), workerId: 'w', leaseSeconds: 60 },
          created,
        );
      }
    }
    const answers: unknown[] = [];
    for (const { direct: first, refunds } of waves) {
      // The account's queue receives the commands that read it at once in order, then the
      // refunds, which first take their project (one step later, all in order).
      const steps = [...first, ...refunds];
      if (together) answers.push(...(await Promise.all(steps.map((step) => settle(send(`k${step.key}`, step))))));
      else for (const step of steps) answers.push(await settle(send(`k${step.key}`, step)));
    }
    const events = await store.readStream(accountStream(accountId), { limit: 4096 });
    return { answers, events: normal(events.map((e) => [e.type, e.data])) };
  }

  it('gives every command of random waves the same answer, batched or one at a time', async () => {
    const batched = executor(64);
    const alone = executor(1);
    await fc.assert(
      fc.asyncProperty(fc.array(wave, { minLength: 1, maxLength: 3 }), async (waves) => {
        const together = await play(batched, waves, true);
        const oneByOne = await play(alone, waves, false);
        expect(together).toEqual(oneByOne);
      }),
      { numRuns: 60 },
    );
    // Not a vacuous comparison: commands did share batches.
    expect(batches.some((size) => size > 1)).toBe(true);
  }, 120_000);

  it("answers each command of a batch with its own record's position, also from a store that tells only the append's", async () => {
    // As the KurrentDB adapter answers: no position per stream.
    const onlyAppendPosition = new Proxy(store, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property);
        if (property !== 'append') return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: Parameters<EventStore['append']>) => {
          const result = await target.append(...args);
          return {
            ...result,
            streams: result.streams.map(({ streamName, nextRevision }) => ({ streamName, nextRevision })),
          };
        };
      },
    });
    for (const view of [store, onlyAppendPosition]) {
      const exec = executor(64, view);
      const accountId = `acc-${randomUUID()}`;
      const keys = Array.from({ length: 8 }, () => randomUUID());
      const ctx = (k: string): CommandContext => ({
        caller: 'svc',
        idempotencyKey: k,
        requestHash: requestHash('POST', '/x', { k }),
        correlationId: 'c',
      });
      const grant = (k: string) =>
        exec.execute(
          ctx(k),
          grantCredits,
          { type: 'GrantCredits', accountId, amount: 1, source: 'purchase', grantId: k },
          created,
        );
      batches.length = 0;
      const first = await Promise.all(keys.map(grant));
      expect(Math.max(...batches)).toBeGreaterThan(1);
      const records = await store.readStreams(keys.map((k) => ({ streamName: idempotencyStream('svc', k), limit: 1 })));
      expect(first.map((r) => r.position)).toEqual(records.map((page) => page[0]!.position));
      expect(new Set(first.map((r) => r.position)).size).toBe(keys.length);
      // A repeat answers as the first time, position included.
      const again = await Promise.all(keys.map(grant));
      expect(again.map(({ answer, position }) => ({ answer, position }))).toEqual(
        first.map(({ answer, position }) => ({ answer, position })),
      );
    }
  });

  it.each([
    ['fails', () => new Error('read failed')],
    ['is unavailable', () => new StoreUnavailableError('read timed out')],
  ])("answers a committed batch as accepted when reading its records' positions back %s", async (_, failure) => {
    const keys = Array.from({ length: 8 }, () => randomUUID());
    const recordStreams = new Set(keys.map((k) => idempotencyStream('svc', k)));
    // As the KurrentDB adapter answers (no position per stream), and the read after the append fails.
    let armed = false;
    const failingReadBack = new Proxy(store, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property);
        if (property === 'append') {
          return async (...args: Parameters<EventStore['append']>) => {
            const result = await target.append(...args);
            // More than one command's record: the executor reads their positions back.
            armed ||= args[0].filter((a) => recordStreams.has(a.streamName)).length > 1;
            return {
              ...result,
              streams: result.streams.map(({ streamName, nextRevision }) => ({ streamName, nextRevision })),
            };
          };
        }
        if (property === 'readStreams') {
          return (...args: Parameters<EventStore['readStreams']>) => {
            if (!armed) return target.readStreams(...args);
            armed = false;
            return Promise.reject(failure());
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const exec = executor(64, failingReadBack);
    const accountId = `acc-${randomUUID()}`;
    batches.length = 0;
    const settled = await Promise.allSettled(
      keys.map((k) =>
        exec.execute(
          { caller: 'svc', idempotencyKey: k, requestHash: requestHash('POST', '/x', { k }), correlationId: 'c' },
          grantCredits,
          { type: 'GrantCredits', accountId, amount: 1, source: 'purchase', grantId: k },
          created,
        ),
      ),
    );
    expect(Math.max(...batches)).toBeGreaterThan(1);
    // The read did fail after a committed batch (not a vacuous run).
    expect(armed).toBe(false);
    for (const result of settled) {
      expect(result).toMatchObject({ status: 'fulfilled', value: { replayed: false, answer: { status: 201 } } });
    }
    const events = await store.readStream(accountStream(accountId), { limit: 100 });
    expect(events.filter((e) => e.type === 'CreditsGranted')).toHaveLength(keys.length);
    // Each answer's position is past its own record's.
    const records = await store.readStreams(keys.map((k) => ({ streamName: idempotencyStream('svc', k), limit: 1 })));
    settled.forEach((result, i) => {
      const { position } = (result as PromiseFulfilledResult<{ position: bigint }>).value;
      expect(position).toBeGreaterThanOrEqual(records[i]![0]!.position);
    });
  });
});

function describeError(error: unknown) {
  if (error instanceof RecordedRefusal) return { refusal: 'recorded', answer: error.answer };
  if (error instanceof RuleViolation) return { refusal: error.code, message: error.message, details: error.details };
  if (error instanceof ApiError) return { error: error.status, code: error.code };
  return { unexpected: String(error) };
}
