import {
  evolveAccountSettings,
  evolveWebhookEndpoint,
  initialAccountSettingsState,
  initialWebhookEndpointState,
  type AccountSettingsEvent,
  type AccountSettingsState,
  type WebhookEndpointEvent,
  type WebhookEndpointState,
  evolveAccount,
  evolveApiKey,
  initialApiKeyState,
  type ApiKeyEvent,
  type ApiKeyState,
  evolveProject,
  initialAccountState,
  lotCounts,
  initialProjectState,
  type StoredAccountEvent,
  type AccountState,
  type ProjectEvent,
  type ProjectState,
} from '@ledger/domain';
import type { StreamFold } from './stream-state.cache.js';

// Bump when evolve changes what it builds: snapshots of another version are ignored.
// 2: the account's lots (credit lots, issue 12). 3: lots kept in the spending order, with their grant order.
// 4: what debits written before lots still hold of each lot (legacyLent), which only their refunds return.
const ACCOUNT_FOLD_VERSION = 4;
// 3: a completed project keeps its current assets (ProjectAssetsAttached). 4: the lots its start drew.
const PROJECT_FOLD_VERSION = 4;

/**
 * About what one lot takes in memory in an account's state: 288 bytes for the lot and its
 * entries in the LotBook's maps (measured on Node 24, 10,000 lots), and its ids. (381 bytes a
 * lot with Node 20, accounts of 10 and 1,000 lots, grant ids of 38 characters.)
 */
const LOT_BYTES = 384;
/** An account's state without lots: its money and its empty book (measured with Node 20 as above). */
const ACCOUNT_BYTES = 384;

/** How an account stream folds into the state its commands are decided on. */
export const ACCOUNT_FOLD: StreamFold<AccountState> = {
  kind: 'account',
  version: ACCOUNT_FOLD_VERSION,
  initial: initialAccountState,
  // The stored event's id names a lot whose grant was written before lots had ids.
  evolve: (state, event) => evolveAccount(state, event as StoredAccountEvent),
  // Stringifying (or even listing) up to 10,000 lots on every load would cost more than the
  // decision itself: the lots' count, by what a lot takes in the fold's LotBook.
  sizeOf: (state) => ACCOUNT_BYTES + lotCounts(state).all * LOT_BYTES,
};

/** How a project stream folds into the state its commands are decided on. */
export const PROJECT_FOLD: StreamFold<ProjectState> = {
  kind: 'project',
  version: PROJECT_FOLD_VERSION,
  initial: initialProjectState,
  evolve: (state, event) => evolveProject(state, event as ProjectEvent),
};

/** How an API key's stream folds into the state its create and revoke are decided on. */
export const API_KEY_FOLD: StreamFold<ApiKeyState> = {
  kind: 'apiKey',
  version: 1,
  initial: initialApiKeyState,
  evolve: (state, event) => evolveApiKey(state, event as ApiKeyEvent),
};

/** How an outbound webhook endpoint's stream folds into the state its commands are decided on. */
export const WEBHOOK_ENDPOINT_FOLD: StreamFold<WebhookEndpointState> = {
  kind: 'webhookEndpoint',
  version: 1,
  initial: initialWebhookEndpointState,
  evolve: (state, event) => evolveWebhookEndpoint(state, event as WebhookEndpointEvent),
};

/** How an account's settings stream folds. */
export const ACCOUNT_SETTINGS_FOLD: StreamFold<AccountSettingsState> = {
  kind: 'accountSettings',
  version: 1,
  initial: initialAccountSettingsState,
  evolve: (state, event) => evolveAccountSettings(state, event as AccountSettingsEvent),
};
