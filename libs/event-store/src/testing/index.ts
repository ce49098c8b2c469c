export * from './event-store.contract.js';
export * from './collect.js';
