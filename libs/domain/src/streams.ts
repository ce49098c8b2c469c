import { createHash } from 'node:crypto';

/**
 * Every stream name is built and parsed here, so the handlers, the projector, the
 * audit and the tests agree on them. A name is `<category>-<id>`.
 */

const ACCOUNT = 'account-';
const PROJECT = 'project-';
const IDEMPOTENCY = 'idem-';
const API_KEY = 'apikey-';
const WEBHOOK_ENDPOINT = 'webhookendpoint-';
const ACCOUNT_SETTINGS = 'accountsettings-';

/** The prefixes of every stream the ledger writes: what the projector and the audit follow. */
export const LEDGER_STREAM_PREFIXES: readonly string[] = [
  ACCOUNT,
  PROJECT,
  IDEMPOTENCY,
  API_KEY,
  WEBHOOK_ENDPOINT,
  ACCOUNT_SETTINGS,
];

export type StreamCategory = 'account' | 'project' | 'idempotency' | 'apiKey' | 'webhookEndpoint' | 'accountSettings';

export function accountStream(accountId: string): string {
  return `${ACCOUNT}${accountId}`;
}

export function projectStream(projectId: string): string {
  return `${PROJECT}${projectId}`;
}

/**
 * The stream that records a command's first outcome for one caller and idempotency key.
 * The key is hashed because it is caller-chosen text (up to 255 characters, any bytes)
 * and a stream name must stay short and safe; the newline keeps ("ab", "c") and
 * ("a", "bc") apart, since neither an API key name nor a header value contains one.
 */
export function idempotencyStream(caller: string, idempotencyKey: string): string {
  const digest = createHash('sha256').update(`${caller}\n${idempotencyKey}`, 'utf8').digest('hex');
  return `${IDEMPOTENCY}${digest}`;
}

/** The stream of one API key's life: created, revoked. */
export function apiKeyStream(keyId: string): string {
  return `${API_KEY}${keyId}`;
}

/** The stream of one outbound webhook endpoint's life: registered, secret rotated, disabled, enabled. */
export function webhookEndpointStream(endpointId: string): string {
  return `${WEBHOOK_ENDPOINT}${endpointId}`;
}

/** The endpoint id of a webhook endpoint stream's name; undefined for any other stream. */
export function webhookEndpointIdOf(streamName: string): string | undefined {
  return streamName.startsWith(WEBHOOK_ENDPOINT) ? streamName.slice(WEBHOOK_ENDPOINT.length) : undefined;
}

/** The stream of an account's settings (the low-balance threshold), apart from its money. */
export function accountSettingsStream(accountId: string): string {
  return `${ACCOUNT_SETTINGS}${accountId}`;
}

/** The key id of an API key stream's name; undefined for any other stream. */
export function apiKeyIdOf(streamName: string): string | undefined {
  return streamName.startsWith(API_KEY) ? streamName.slice(API_KEY.length) : undefined;
}

/** The account id of an account stream's name; undefined for any other stream. */
export function accountIdOf(streamName: string): string | undefined {
  return streamName.startsWith(ACCOUNT) ? streamName.slice(ACCOUNT.length) : undefined;
}

/** The project id of a project stream's name; undefined for any other stream. */
export function projectIdOf(streamName: string): string | undefined {
  return streamName.startsWith(PROJECT) ? streamName.slice(PROJECT.length) : undefined;
}

/** Idempotency records are how commands stay idempotent, not ledger facts. */
export function isIdempotencyStream(streamName: string): boolean {
  return streamName.startsWith(IDEMPOTENCY);
}

/** Which kind of stream a name is, or undefined for a stream the ledger does not write. */
export function streamCategoryOf(streamName: string): StreamCategory | undefined {
  if (streamName.startsWith(ACCOUNT)) return 'account';
  if (streamName.startsWith(PROJECT)) return 'project';
  if (streamName.startsWith(IDEMPOTENCY)) return 'idempotency';
  if (streamName.startsWith(API_KEY)) return 'apiKey';
  if (streamName.startsWith(WEBHOOK_ENDPOINT)) return 'webhookEndpoint';
  if (streamName.startsWith(ACCOUNT_SETTINGS)) return 'accountSettings';
  return undefined;
}
