export * from './database.js';
export * from './app.js';
export * from './http.js';
export * from './ledger-workload.js';
export * from './read-model-diff.js';
