export * from './event-store.port.js';
export * from './errors.js';
export { PostgresEventStore, type PostgresEventStoreOptions } from './postgres/postgres-event-store.js';
export { eventStoreMigrations } from './postgres/event-store.migrations.js';
export { KurrentDbEventStore, type KurrentDbEventStoreOptions } from './kurrentdb/kurrentdb-event-store.js';
// PostgreSQL errors that mean "can't serve us now": the read side (projections) answers 503 on them too.
export { isUnavailable as isPostgresUnavailable } from './postgres/postgres-errors.js';
