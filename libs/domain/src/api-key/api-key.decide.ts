import { RuleViolation } from '../rule-violation.js';
import { TEXT_LENGTH_MAX } from '../limits.js';
import { RULES, isId, isIntegerBetween, isOptional, isText, requireValid } from '../validation.js';
import type { CreateApiKey, RevokeApiKey } from './api-key.commands.js';
import { SCOPES, type ApiKeyEvent, type Scope } from './api-key.events.js';
import type { ApiKeyState } from './api-key.state.js';

/** A key name: what logs and idempotency scopes show; no ':' (the service's own callers use it). */
export const API_KEY_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** The caller name of the watchdog's own commands (expiring projects and lots). */
export const WATCHDOG_CALLER_NAME = 'watchdog';
/**
 * Names the service's own callers use for their commands (idempotency keys are scoped by
 * the caller's name): no key may take one, in any case, or its requests would share their
 * scope. The service's configuration reserves the same list for its configured keys.
 */
export const SERVICE_CALLER_NAMES: readonly string[] = [WATCHDOG_CALLER_NAME];
export const RATE_PER_SECOND_MAX = 100_000;
// A key that outlives this is a key nobody remembers to rotate.
export const API_KEY_LIFETIME_DAYS_MAX = 3_660;
const DIGEST_PATTERN = /^[0-9a-f]{64}$/;

/** What the answers need: the key as created (the secret is the caller's to add), or when it was revoked. */
export type ApiKeyReply = Readonly<
  | {
      keyId: string;
      name: string;
      scopes: readonly Scope[];
      expiresAt: string | null;
      ratePerSecond: number | null;
      createdAt: string;
    }
  | { keyId: string; revokedAt: string }
>;
export type ApiKeyDecision = Readonly<{ apiKey: readonly ApiKeyEvent[]; reply: ApiKeyReply }>;

export function isServiceCallerName(name: unknown): boolean {
  return (
    typeof name === 'string' && SERVICE_CALLER_NAMES.some((reserved) => reserved.toLowerCase() === name.toLowerCase())
  );
}

export function decideCreateApiKey(state: ApiKeyState, command: CreateApiKey): ApiKeyDecision {
  const expiresAtMs = command.expiresAt === undefined ? undefined : Date.parse(command.expiresAt);
  const nowMs = command.now.getTime();
  requireValid([
    ['keyId', isId(command.keyId), RULES.id],
    [
      'name',
      API_KEY_NAME_PATTERN.test(command.name) && !isServiceCallerName(command.name),
      `a string of 1 to 64 letters, digits, ".", "_" or "-", other than ${SERVICE_CALLER_NAMES.join(', ')} (the service's own callers)`,
    ],
    [
      'scopes',
      command.scopes.length > 0 && command.scopes.every((s) => (SCOPES as readonly string[]).includes(s)),
      `a non-empty list of ${SCOPES.join(', ')}`,
    ],
    ['digest', DIGEST_PATTERN.test(command.digest), 'a sha256 digest in hex'],
    [
      'expiresAt',
      expiresAtMs === undefined ||
        (Number.isFinite(expiresAtMs) &&
          expiresAtMs > nowMs &&
          expiresAtMs <= nowMs + API_KEY_LIFETIME_DAYS_MAX * 86_400_000),
      `an ISO 8601 time in the future, at most ${API_KEY_LIFETIME_DAYS_MAX} days ahead`,
    ],
    [
      'ratePerSecond',
      isOptional(command.ratePerSecond, (v) => isIntegerBetween(v, 1, RATE_PER_SECOND_MAX)),
      `an integer from 1 to ${RATE_PER_SECOND_MAX}`,
    ],
  ]);
  if (state.status !== 'none') {
    throw new RuleViolation('already_exists', `the key ${command.keyId} already exists`, { keyId: command.keyId });
  }
  const { keyId, name, digest, expiresAt, ratePerSecond } = command;
  // Each scope once, in the canonical order: the event says what the key may do, not how it was asked.
  const scopes = SCOPES.filter((s) => command.scopes.includes(s));
  const event: ApiKeyEvent = {
    type: 'ApiKeyCreated',
    data: {
      keyId,
      name,
      scopes,
      digest,
      ...(expiresAt === undefined ? {} : { expiresAt: new Date(expiresAtMs!).toISOString() }),
      ...(ratePerSecond === undefined ? {} : { ratePerSecond }),
    },
  };
  return {
    apiKey: [event],
    reply: {
      keyId,
      name,
      scopes,
      expiresAt: event.data.expiresAt ?? null,
      ratePerSecond: ratePerSecond ?? null,
      createdAt: command.now.toISOString(),
    },
  };
}

/**
 * A revoked key stays revoked: revoking it again is `invalid_transition` (the same
 * Idempotency-Key again replays the first answer instead, like every command).
 */
export function decideRevokeApiKey(state: ApiKeyState, command: RevokeApiKey): ApiKeyDecision {
  requireValid([
    ['keyId', isId(command.keyId), RULES.id],
    ['reason', isOptional(command.reason, (v) => isText(v, TEXT_LENGTH_MAX)), `1 to ${TEXT_LENGTH_MAX} characters`],
  ]);
  if (state.status === 'none') {
    throw new RuleViolation('not_found', `no API key ${command.keyId}`, { keyId: command.keyId });
  }
  if (state.status === 'revoked') {
    throw new RuleViolation('invalid_transition', `the key ${command.keyId} is already revoked`, {
      keyId: command.keyId,
      status: state.status,
    });
  }
  const event: ApiKeyEvent = {
    type: 'ApiKeyRevoked',
    data: {
      keyId: command.keyId,
      name: state.name,
      ...(command.reason === undefined ? {} : { reason: command.reason }),
    },
  };
  return { apiKey: [event], reply: { keyId: command.keyId, revokedAt: command.now.toISOString() } };
}

export function decideApiKey(state: ApiKeyState, command: CreateApiKey | RevokeApiKey): ApiKeyDecision {
  return command.type === 'CreateApiKey' ? decideCreateApiKey(state, command) : decideRevokeApiKey(state, command);
}
