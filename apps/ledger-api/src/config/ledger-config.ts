import { resolve } from 'node:path';
import {
  AMOUNT_MAX,
  DEADLINE_SECONDS_DEFAULT,
  DEADLINE_SECONDS_MAX,
  RATE_PER_SECOND_MAX,
  SCOPES,
  SERVICE_CALLER_NAMES,
  WATCHDOG_CALLER_NAME,
  isServiceCallerName,
  type Scope,
} from '@ledger/domain';

import type { OutboundConfig } from '../outbound/outbound-config.js';
import { RETRY_SCHEDULE_DEFAULT } from '../outbound/retry-schedule.js';

export { SCOPES, type Scope };
export type EventStoreKind = 'postgres' | 'kurrentdb';

export interface ApiKeyConfig {
  name: string;
  secret: string;
  scopes: Scope[];
  /** Requests per second (per replica); unset: `rateLimitPerSecond`. */
  ratePerSecond?: number;
}

export const RATE_LIMIT_PER_SECOND_DEFAULT = 500;
export const WEBHOOK_UNMATCHED_DAYS_DEFAULT = 7;
/** The decisions' stream states kept in memory, every kind of stream together (an estimate of their heap). */
export const STATE_CACHE_MB_DEFAULT = 32;
const STATE_CACHE_MB_MAX = 65_536;
const WEBHOOK_UNMATCHED_DAYS_MAX = 3_650;

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
  /** A delivery kept for a task no project has expires after this many days (never applied then). */
  webhookUnmatchedDays: number;
  /** The rate of a key that names none (requests per second, per replica; the burst is twice it). */
  rateLimitPerSecond: number;
  logLevel: string;
  /** `inline`: this process runs the projector too (the embedded default); `external`: another process does. */
  projector: 'inline' | 'external';
  /** The deadline of a project started without `deadlineSeconds`. */
  deadlineSecondsDefault: number;
  /** The bound of the stream states kept in memory for decisions, all kinds together (MB of heap, estimated). */
  stateCacheMb: number;
  watchdog: WatchdogConfig;
  /** Outbound webhooks (README, "Outbound webhooks"). */
  outbound: OutboundConfig;
  /** The continuous reconciliation (README, "Audit and reconciliation"). */
  reconciliation: ReconciliationConfig;
}

/** The checker that follows the log (one active across replicas); off: the endpoint folds the whole log per call. */
export interface ReconciliationConfig {
  checker: boolean;
  /** How often every stream's fold is compared with its rows again (a row edited by hand touches no stream). */
  sweepIntervalMs: number;
  /**
   * At the head of the log, the least time between two of the checker's batches: each batch is
   * a transaction, so at the head it would be one a commit; the checker trails by up to this.
   */
  paceMs: number;
}

/** The watchdog that fails projects past their deadline or out of attempts (one active across replicas). */
export interface WatchdogConfig {
  enabled: boolean;
  intervalMs: number;
  /** A project whose lease expired on this attempt, or a later one, is failed. */
  attemptsMax: number;
}

/** The caller of the watchdog's own commands. */
export const WATCHDOG_CALLER = WATCHDOG_CALLER_NAME;
/** Callers the service itself uses for its own commands; no key can take their name (idempotency scope). */
export const SERVICE_CALLERS: readonly string[] = SERVICE_CALLER_NAMES;

const WATCHDOG_INTERVAL_MS_MIN = 10;
// setTimeout's limit is about 24.8 days; a watchdog sweeping less than daily is no watchdog.
const WATCHDOG_INTERVAL_MS_MAX = 24 * 60 * 60 * 1000;
const ATTEMPTS_MAX_LIMIT = 1_000;

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
    webhookUnmatchedDays: parseInteger(
      'LEDGER_WEBHOOK_UNMATCHED_DAYS',
      env.LEDGER_WEBHOOK_UNMATCHED_DAYS,
      WEBHOOK_UNMATCHED_DAYS_DEFAULT,
      1,
      WEBHOOK_UNMATCHED_DAYS_MAX,
    ),
    rateLimitPerSecond: parseInteger(
      'LEDGER_RATE_LIMIT_PER_SECOND',
      env.LEDGER_RATE_LIMIT_PER_SECOND,
      RATE_LIMIT_PER_SECOND_DEFAULT,
      1,
      RATE_PER_SECOND_MAX,
    ),
    logLevel: env.LOG_LEVEL ?? 'info',
    projector: parseProjector(env.LEDGER_PROJECTOR ?? 'inline'),
    deadlineSecondsDefault: parseInteger(
      'LEDGER_DEADLINE_SECONDS_DEFAULT',
      env.LEDGER_DEADLINE_SECONDS_DEFAULT,
      DEADLINE_SECONDS_DEFAULT,
      1,
      DEADLINE_SECONDS_MAX,
    ),
    stateCacheMb: parseInteger(
      'LEDGER_STATE_CACHE_MB',
      env.LEDGER_STATE_CACHE_MB,
      STATE_CACHE_MB_DEFAULT,
      1,
      STATE_CACHE_MB_MAX,
    ),
    watchdog: {
      enabled: parseOnOff('LEDGER_WATCHDOG', env.LEDGER_WATCHDOG ?? 'on'),
      intervalMs: parseInteger(
        'LEDGER_WATCHDOG_INTERVAL_MS',
        env.LEDGER_WATCHDOG_INTERVAL_MS,
        5_000,
        WATCHDOG_INTERVAL_MS_MIN,
        WATCHDOG_INTERVAL_MS_MAX,
      ),
      attemptsMax: parseInteger('LEDGER_ATTEMPTS_MAX', env.LEDGER_ATTEMPTS_MAX, 3, 1, ATTEMPTS_MAX_LIMIT),
    },
    outbound: parseOutbound(env),
    reconciliation: {
      checker: parseOnOff('LEDGER_RECONCILIATION_CHECKER', env.LEDGER_RECONCILIATION_CHECKER ?? 'on'),
      sweepIntervalMs: parseInteger(
        'LEDGER_RECONCILIATION_SWEEP_MS',
        env.LEDGER_RECONCILIATION_SWEEP_MS,
        300_000,
        WATCHDOG_INTERVAL_MS_MIN,
        WATCHDOG_INTERVAL_MS_MAX,
      ),
      paceMs: parseInteger('LEDGER_RECONCILIATION_PACE_MS', env.LEDGER_RECONCILIATION_PACE_MS, 100, 0, 60_000),
    },
  };
}

function parseOutbound(env: NodeJS.ProcessEnv): OutboundConfig {
  const threshold = nonEmpty(env.LEDGER_LOW_BALANCE_THRESHOLD);
  return {
    allowPrivate: parseBoolean('LEDGER_OUTBOUND_ALLOW_PRIVATE', env.LEDGER_OUTBOUND_ALLOW_PRIVATE ?? 'false'),
    lowBalanceThreshold:
      threshold === undefined ? undefined : parseInteger('LEDGER_LOW_BALANCE_THRESHOLD', threshold, 0, 0, AMOUNT_MAX),
    expiryNoticeHours: parseInteger('LEDGER_EXPIRY_NOTICE_HOURS', env.LEDGER_EXPIRY_NOTICE_HOURS, 72, 1, 24 * 365),
    retry: {
      firstDelayMs: parseInteger(
        'LEDGER_OUTBOUND_RETRY_FIRST_MS',
        env.LEDGER_OUTBOUND_RETRY_FIRST_MS,
        RETRY_SCHEDULE_DEFAULT.firstDelayMs,
        1,
        RETRY_SCHEDULE_DEFAULT.delayMsMax,
      ),
      delayMsMax: RETRY_SCHEDULE_DEFAULT.delayMsMax,
      windowMs:
        parseInteger(
          'LEDGER_OUTBOUND_RETRY_WINDOW_SECONDS',
          env.LEDGER_OUTBOUND_RETRY_WINDOW_SECONDS,
          RETRY_SCHEDULE_DEFAULT.windowMs / 1000,
          1,
          30 * 24 * 3600,
        ) * 1000,
    },
    concurrencyMax: parseInteger('LEDGER_OUTBOUND_CONCURRENCY', env.LEDGER_OUTBOUND_CONCURRENCY, 16, 1, 256),
    timeoutMs: 10_000,
    pollMs: parseInteger('LEDGER_OUTBOUND_POLL_MS', env.LEDGER_OUTBOUND_POLL_MS, 1_000, 10, 60_000),
  };
}

function parseBoolean(name: string, value: string): boolean {
  if (value !== 'true' && value !== 'false') throw new ConfigError(`${name} must be 'true' or 'false', got '${value}'`);
  return value === 'true';
}

function parseInteger(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || value.trim() === '') return fallback;
  const number = Number(value.trim());
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number < min || number > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got '${value}'`);
  }
  return number;
}

function parseOnOff(name: string, value: string): boolean {
  if (value !== 'on' && value !== 'off') throw new ConfigError(`${name} must be 'on' or 'off', got '${value}'`);
  return value === 'on';
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

/** `name:secret:scope,scope;...`, each optionally with `:rate` (requests per second) after its scopes. */
export function parseApiKeys(value: string): ApiKeyConfig[] {
  const keys = value
    .split(';')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry, index) => {
      const [name, secret, scopeList, rate, ...rest] = entry.split(':');
      if (!name || !secret || !scopeList || rest.length > 0) {
        throw new ConfigError(`LEDGER_API_KEYS entry #${index + 1} must be name:secret:scope,scope[:rate]`);
      }
      if (isServiceCallerName(name)) {
        throw new ConfigError(`LEDGER_API_KEYS: the name '${name}' is reserved for the service's own commands`);
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
      if (rate === undefined) return { name, secret, scopes: scopes as Scope[] };
      const ratePerSecond = parseInteger(
        `LEDGER_API_KEYS: the rate of '${name}'`,
        rate || 'none',
        0,
        1,
        RATE_PER_SECOND_MAX,
      );
      return { name, secret, scopes: scopes as Scope[], ratePerSecond };
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
