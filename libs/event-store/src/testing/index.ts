export * from './event-store.contract.js';
export * from './collect.js';
export * from './postgres-for-testing.js';
export * from './kurrentdb-double/kurrentdb-double.js';
