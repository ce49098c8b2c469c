/** Injection tokens for what the runtime connects before Nest starts. */
export const PG_POOL = Symbol('PG_POOL');
export const LEDGER_CONFIG = Symbol('LEDGER_CONFIG');
export const API_KEYS = Symbol('API_KEYS');
export const PROJECTOR = Symbol('PROJECTOR');
