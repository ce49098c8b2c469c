import {
  PostgresEventStore,
  type PostgresEventStoreOptions,
  type PostgresEventStoreTestHooks,
} from '../postgres/postgres-event-store.js';

export type { PostgresEventStoreTestHooks } from '../postgres/postgres-event-store.js';

/** The only way in for the test hooks: production code connects through `PostgresEventStore.connect`. */
class PostgresEventStoreWithHooks extends PostgresEventStore {
  static open(options: PostgresEventStoreOptions, hooks: PostgresEventStoreTestHooks): Promise<PostgresEventStore> {
    return PostgresEventStore.migrated(new PostgresEventStoreWithHooks(options, hooks));
  }
}

/** `PostgresEventStore.connect` with seams for tests: a transaction held before COMMIT, the gap protection, polls. */
export function connectPostgresForTesting(
  options: PostgresEventStoreOptions,
  hooks: PostgresEventStoreTestHooks,
): Promise<PostgresEventStore> {
  return PostgresEventStoreWithHooks.open(options, hooks);
}
