import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { migrate } from '@ledger/platform';
import { PostgresEventStore, type EventStore } from '@ledger/event-store';
import type { AccountState, ApiKeyState, ProjectState } from '@ledger/domain';
import { createTestDatabase } from '@ledger/test-support';
import { ApiExceptionFilter } from '../../errors/api-exception.filter.js';
import { systemClock, type Clock } from '../clock.js';
import { CommandExecutor, type CommandExecutorOptions, type StateCaches } from '../command-executor.js';
import { requestHash, type CommandContext } from '../idempotency.js';
import { KeyLocks } from '../key-locks.js';
import { RefusalRecords } from '../refusals.js';
import { SnapshotStore, ledgerApiMigrations } from '../snapshot.store.js';
import {
  ACCOUNT_FOLD,
  ACCOUNT_SETTINGS_FOLD,
  API_KEY_FOLD,
  PROJECT_FOLD,
  WEBHOOK_ENDPOINT_FOLD,
} from '../stream-folds.js';
import { StreamStateCache } from '../stream-state.cache.js';

/** A test database of its own with the service's tables, and the event store on it: what a spec's executors share. */
export interface ExecutorDatabase {
  url: string;
  store: PostgresEventStore;
  pool: pg.Pool;
  /** One lock session for every executor of a spec: like commands of one replica, they never find each other's keys held. */
  keyLocks: KeyLocks;
  close(): Promise<void>;
}

export async function startExecutorDatabase(name: string): Promise<ExecutorDatabase> {
  const url = await createTestDatabase(name);
  const store = await PostgresEventStore.connect({ connectionString: url });
  const pool = new pg.Pool({ connectionString: url });
  const keyLocks = new KeyLocks(url);
  await migrate(pool, ledgerApiMigrations);
  return {
    url,
    store,
    pool,
    keyLocks,
    close: async () => void (await Promise.all([keyLocks.close(), store.close(), pool.end()])),
  };
}

/** A state cache of every kind of stream on `view` of the store, snapshots in `pool`: as CommandsModule wires them. */
export function stateCachesOf(pool: pg.Pool, view: EventStore): StateCaches {
  const snapshots = new SnapshotStore(pool, { warn: () => undefined });
  return {
    account: new StreamStateCache<AccountState>(view, ACCOUNT_FOLD, snapshots),
    project: new StreamStateCache<ProjectState>(view, PROJECT_FOLD, snapshots),
    apiKey: new StreamStateCache<ApiKeyState>(view, API_KEY_FOLD, snapshots),
    webhookEndpoint: new StreamStateCache(view, WEBHOOK_ENDPOINT_FOLD, snapshots),
    accountSettings: new StreamStateCache(view, ACCOUNT_SETTINGS_FOLD, snapshots),
  };
}

/**
 * An executor as CommandsModule builds one (a replica of the service) on `view` of the store
 * (the store itself, or a wrapper that watches or delays it), refusals recorded in `pool`.
 */
export function testExecutor(
  { pool, keyLocks }: Pick<ExecutorDatabase, 'pool' | 'keyLocks'>,
  view: EventStore,
  {
    caches = stateCachesOf(pool, view),
    clock = systemClock,
    options = {},
  }: { caches?: StateCaches; clock?: Clock; options?: CommandExecutorOptions } = {},
): CommandExecutor {
  const filter = new ApiExceptionFilter();
  return new CommandExecutor(
    view,
    caches,
    clock,
    new RefusalRecords(pool),
    keyLocks,
    (v) => filter.toResponse(v),
    options,
  );
}

/** A command's context: its Idempotency-Key `key` and a request hash of its own. */
export function commandContext(key: string = randomUUID()): CommandContext {
  return { caller: 'svc', idempotencyKey: key, requestHash: requestHash('POST', '/x', { key }), correlationId: 'c' };
}
