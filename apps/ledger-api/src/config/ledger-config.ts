import { resolve } from 'node:path';

export type EventStoreKind = 'postgres' | 'kurrentdb';
export type Scope = 'commands' | 'read' | 'audit' | 'admin';
export const SCOPES: readonly Scope[] = ['commands', 'read', 'audit', 'admin'];

export interface ApiKeyConfig {
  name: string;
  secret: string;
  scopes: Scope[];
}

export interface LedgerConfig {
  port: number;
  host: string;
  dataDir: string;
  /** Unset: the embedded PostgreSQL in `dataDir` is started. */
  databaseUrl: string | undefined;
  eventStore: EventStoreKind;
  eventStoreConnectionString: string | undefined;
  /** Unset: one admin key is generated on first start and kept in `dataDir`. */
  apiKeys: ApiKeyConfig[] | undefined;
  webhookSecrets: Map<string, string[]>;
  logLevel: string;
  /** `inline`: this process runs the projector too (the embedded default); `external`: another process does. */
  projector: 'inline' | 'external';
}

/** A configuration the service refuses to start with; the message says what to fix. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads the environment variables of API.md ("Configuration"). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): LedgerConfig {
  const eventStore = (env.LEDGER_EVENT_STORE ?? 'postgres') as EventStoreKind;
  if (eventStore !== 'postgres' && eventStore !== 'kurrentdb') {
    throw new ConfigError(`LEDGER_EVENT_STORE must be 'postgres' or 'kurrentdb', got '${eventStore}'`);
  }
  const eventStoreConnectionString = nonEmpty(env.EVENTSTORE_CONNECTION_STRING);
  if (eventStore === 'kurrentdb' && !eventStoreConnectionString) {
    throw new ConfigError('LEDGER_EVENT_STORE=kurrentdb needs EVENTSTORE_CONNECTION_STRING');
  }
  return {
    port: parsePort(env.PORT ?? '3000'),
    host: env.HOST ?? '0.0.0.0',
    dataDir: resolve(env.LEDGER_DATA_DIR ?? './.data'),
    databaseUrl: nonEmpty(env.DATABASE_URL),
    eventStore,
    eventStoreConnectionString,
    apiKeys: nonEmpty(env.LEDGER_API_KEYS) ? parseApiKeys(env.LEDGER_API_KEYS!) : undefined,
    webhookSecrets: parseWebhookSecrets(env.LEDGER_WEBHOOK_SECRETS ?? ''),
    logLevel: env.LOG_LEVEL ?? 'info',
    projector: parseProjector(env.LEDGER_PROJECTOR ?? 'inline'),
  };
}

function parseProjector(value: string): 'inline' | 'external' {
  if (value !== 'inline' && value !== 'external') {
    throw new ConfigError(`LEDGER_PROJECTOR must be 'inline' or 'external', got '${value}'`);
  }
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.trim().length > 0 ? value.trim() : undefined;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new ConfigError(`PORT must be 0-65535, got '${value}'`);
  return port;
}

/** `name:secret:scope,scope;...` */
export function parseApiKeys(value: string): ApiKeyConfig[] {
  const keys = value
    .split(';')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry, index) => {
      const [name, secret, scopeList, ...rest] = entry.split(':');
      if (!name || !secret || !scopeList || rest.length > 0) {
        throw new ConfigError(`LEDGER_API_KEYS entry #${index + 1} must be name:secret:scope,scope`);
      }
      if (secret.length < 16)
        throw new ConfigError(`LEDGER_API_KEYS: the secret of '${name}' is shorter than 16 characters`);
      const scopes = scopeList.split(',').map((s) => s.trim());
      for (const scope of scopes) {
        if (!SCOPES.includes(scope as Scope)) {
          throw new ConfigError(
            `LEDGER_API_KEYS: unknown scope '${scope}' for '${name}' (known: ${SCOPES.join(', ')})`,
          );
        }
      }
      return { name, secret, scopes: scopes as Scope[] };
    });
  const names = new Set(keys.map((k) => k.name));
  if (names.size !== keys.length) throw new ConfigError('LEDGER_API_KEYS: key names must be unique');
  return keys;
}

/** `provider:secret;provider:secret2;...`: several secrets per provider allow rotation. */
export function parseWebhookSecrets(value: string): Map<string, string[]> {
  const secrets = new Map<string, string[]>();
  for (const entry of value
    .split(';')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const separator = entry.indexOf(':');
    const provider = entry.slice(0, separator);
    const secret = entry.slice(separator + 1);
    if (separator <= 0 || secret.length === 0)
      throw new ConfigError('LEDGER_WEBHOOK_SECRETS entries must be provider:secret');
    secrets.set(provider, [...(secrets.get(provider) ?? []), secret]);
  }
  return secrets;
}
