export * from './event-store.port.js';
export * from './errors.js';
export { PostgresEventStore, type PostgresEventStoreOptions } from './postgres/postgres-event-store.js';
// KURRENT_EXPORT
export class KurrentDbEventStore { static connect(_: unknown): never { throw new Error('todo'); } }
