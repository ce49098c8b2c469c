/** The refusals the domain can give; the API maps each code to one HTTP status (see API.md). */
export const RULE_VIOLATION_CODES = [
  'insufficient_credits',
  'stale_attempt',
  'invalid_transition',
  'lease_held',
  'already_exists',
  'not_found',
  'validation_failed',
  // A grant (or a debit) that would take an account's balance or one of its running
  // totals beyond Number.MAX_SAFE_INTEGER, where a JS number stops counting exactly.
  'balance_limit_exceeded',
  // A grant past the account's bound on lots (ACTIVE_LOTS_MAX active, LOTS_KEPT_MAX in all).
  'lots_limit_exceeded',
] as const;

export type RuleViolationCode = (typeof RULE_VIOLATION_CODES)[number];

/**
 * An expected refusal of a command: a business rule said no. A decision either returns
 * events or throws this, never both, so a refused command can append nothing.
 */
export class RuleViolation extends Error {
  override readonly name = 'RuleViolation';

  constructor(
    readonly code: RuleViolationCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export function isRuleViolation(error: unknown): error is RuleViolation {
  return error instanceof RuleViolation;
}
