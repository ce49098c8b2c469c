import { StoreUnavailableError, type EventStore } from '@ledger/event-store';
import type { Clock } from '../../commands/clock.js';
import type { LedgerConfig } from '../../config/ledger-config.js';
import type { ReadModel } from '../../queries/read-model.js';
import type { ReceiveWebhook } from '../receive-webhook/receive-webhook.service.js';
import type { TaskProjects } from '../task-projects.js';
import type { KeptDelivery, UnmatchedWebhooks } from '../unmatched-webhooks.js';
import { EarlyDeliveries } from './early-deliveries.reactor.js';

const keptOf = (id: string, taskId: string, status: 'failed' | 'succeeded'): KeptDelivery => ({
  id,
  provider: 'kie',
  taskId,
  deliveryKey: `key-${id}`,
  requestHash: null,
  body: JSON.stringify({ taskId, status, ...(status === 'failed' ? { errorMessage: 'gpu lost' } : {}) }),
});

/**
 * A reactor over stubs: `kept` are the kept deliveries (in id order), each task's project is
 * `p-{task}`, and applying the delivery keys in `failing` throws a transient error.
 */
function reactorWith(kept: readonly KeptDelivery[], failing: ReadonlySet<string>) {
  const applied: string[] = [];
  const receiver = {
    apply: (projectId: string, command: { context: { idempotencyKey: string } }) => {
      if (failing.has(command.context.idempotencyKey)) return Promise.reject(new StoreUnavailableError('down'));
      applied.push(`${projectId}:${command.context.idempotencyKey}`);
      return Promise.resolve({ position: 1n });
    },
    markApplied: () => Promise.resolve(),
  } as unknown as ReceiveWebhook;
  const unmatched = {
    expire: () => Promise.resolve(0),
    keptAfter: (afterId: string) => Promise.resolve(kept.filter((k) => Number(k.id) > Number(afterId))),
    keptForTasks: (tasks: readonly string[]) => Promise.resolve(kept.filter((k) => tasks.includes(k.taskId))),
  } as unknown as UnmatchedWebhooks;
  const readModel = {
    read: () => Promise.resolve(new Map(kept.map((k) => [k.taskId, `p-${k.taskId}`]))),
  } as unknown as ReadModel;
  const store = { headPosition: () => Promise.resolve(10n) } as unknown as EventStore;
  const clock: Clock = { now: () => new Date() };
  const log = { logger: { info: () => undefined, warn: () => undefined } };
  const reactor = new EarlyDeliveries(
    { webhookUnmatchedDays: 7 } as LedgerConfig,
    store,
    clock,
    receiver,
    unmatched,
    {} as TaskProjects,
    readModel,
    log as never,
  );
  return { reactor, applied };
}

/** A task's kept deliveries are applied in the order kept: one that cannot be applied yet holds back the rest. */
describe('EarlyDeliveries', () => {
  const kept = [
    keptOf('1', 'task-a', 'failed'),
    keptOf('2', 'task-b', 'succeeded'),
    keptOf('3', 'task-a', 'succeeded'),
  ];

  it('stops a project at its first error in a full pass, and goes on with the other projects', async () => {
    const { reactor, applied } = reactorWith(kept, new Set(['key-1']));
    const result = await reactor.fullPass();
    expect(applied).toEqual(['p-task-b:key-2']);
    expect(result).toEqual({ applied: 1, expired: 0, errors: 1 });
  });

  it('stops at the first error when applying a started project’s kept deliveries', async () => {
    const { reactor, applied } = reactorWith(kept, new Set(['key-1']));
    await reactor['applyTo']('p-task-a', ['task-a']);
    expect(applied).toEqual([]);
  });

  it('applies them all, in order, when none fails', async () => {
    const { reactor, applied } = reactorWith(kept, new Set());
    await reactor['applyTo']('p-task-a', ['task-a']);
    expect(applied).toEqual(['p-task-a:key-1', 'p-task-a:key-3']);
  });
});
