/** The state caches share a class, so they are told apart by token. */
export const ACCOUNT_STATES = Symbol('ACCOUNT_STATES');
export const PROJECT_STATES = Symbol('PROJECT_STATES');
export const API_KEY_STATES = Symbol('API_KEY_STATES');
export const WEBHOOK_ENDPOINT_STATES = Symbol('WEBHOOK_ENDPOINT_STATES');
export const ACCOUNT_SETTINGS_STATES = Symbol('ACCOUNT_SETTINGS_STATES');
