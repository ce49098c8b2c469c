export * from './database.js';
export * from './app.js';
export * from './http.js';
export * from './ledger-workload.js';
export * from './wait.js';
export * from './webhooks.js';
export * from './service-process.js';
export * from './event-store.js';
