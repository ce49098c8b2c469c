import { RuleViolation } from '../rule-violation.js';
import { GRANT_SOURCES, LOT_CATEGORIES, type AccountEvent, type CreditsGranted } from './account.events.js';
import type { AccountCommand, DebitCredits, ExpireCredits, GrantCredits, VoidGrant } from './account.commands.js';
import { drawInOrder, findLot, isExpiredAt, lotCounts, spendableAt, type Lot } from './account.lots.js';
import { evolveAccount, LOT_PRIORITY_DEFAULT, type AccountState } from './account.state.js';
import { ACTIVE_LOTS_MAX, LOT_EXPIRY_YEARS_MAX, LOT_PRIORITY_MAX, LOTS_KEPT_MAX, TEXT_LENGTH_MAX } from '../limits.js';
import { RULES, isAmount, isId, isInstant, isIntegerBetween, isOptional, isText, requireValid } from '../validation.js';

/**
 * What the HTTP response needs after the decision's events. `balance` is what can be spent
 * at the command's `now` (API.md): a lot past its expiry counts no more, recorded or not.
 */
export type AccountReply = Readonly<{ accountId: string; balance: number }>;
export type GrantReply = AccountReply & Readonly<{ grantId: string }>;
export type VoidReply = AccountReply & Readonly<{ grantId: string; voided: number }>;
export type ExpireCreditsReply = AccountReply & Readonly<{ grantId: string; expired: number }>;

export type AccountDecision<Reply extends AccountReply = AccountReply> = Readonly<{
  account: readonly AccountEvent[];
  reply: Reply;
}>;

const TEXT_RULE = `1 to ${TEXT_LENGTH_MAX} characters`;

/**
 * A new lot. The same grantId again is the same grant only with the same body (a retry
 * under a new idempotency key): nothing changes and the reply is the current one, also
 * once its `expiresAt` has passed (the lot is looked up before the expiry is held against
 * `now`, which only a new lot must be after). With any other body it is `already_exists`,
 * also for a lot long spent, expired or voided.
 */
export function decideGrantCredits(state: AccountState, command: GrantCredits): AccountDecision<GrantReply> {
  const existing = isId(command.grantId) ? findLot(state, command.grantId) : undefined;
  const retry = existing !== undefined && sameGrant(existing, grantData(command));
  requireValid([
    ['accountId', isId(command.accountId), RULES.id],
    ['amount', isAmount(command.amount), RULES.amount],
    ['source', (GRANT_SOURCES as readonly unknown[]).includes(command.source), `one of ${GRANT_SOURCES.join(', ')}`],
    ['reference', isOptional(command.reference, (v) => isText(v, TEXT_LENGTH_MAX)), TEXT_RULE],
    ['grantId', isId(command.grantId), RULES.id],
    [
      'category',
      isOptional(command.category, (v) => (LOT_CATEGORIES as readonly unknown[]).includes(v)),
      `one of ${LOT_CATEGORIES.join(', ')}`,
    ],
    [
      'priority',
      isOptional(command.priority, (v) => isIntegerBetween(v, 0, LOT_PRIORITY_MAX)),
      `an integer from 0 to ${LOT_PRIORITY_MAX}`,
    ],
    [
      'expiresAt',
      isOptional(command.expiresAt, (v) => (retry ? isZonedInstant(v) : isExpiry(v, command.now))),
      `an ISO 8601 instant after now and at most ${LOT_EXPIRY_YEARS_MAX} years ahead`,
    ],
    ['now', isInstant(command.now), RULES.now],
  ]);
  const { accountId, amount, grantId } = command;
  const data = grantData(command);
  if (existing !== undefined) {
    if (!retry) {
      throw new RuleViolation('already_exists', `grant ${grantId} already exists with a different body`, {
        grantId,
      });
    }
    return accountDecision(state, accountId, command.now, [], { grantId });
  }
  // Bounding lifetime grants bounds the balance for good: every refund gives back part of
  // an earlier debit, so the balance can never exceed what was ever granted.
  if (amount > Number.MAX_SAFE_INTEGER - state.totalGranted) {
    throw new RuleViolation(
      'balance_limit_exceeded',
      'the grant would take the account past the largest exact balance',
      {
        totalGranted: state.totalGranted,
        amount,
      },
    );
  }
  const { active: activeLots, all: lots } = lotCounts(state);
  if (activeLots >= ACTIVE_LOTS_MAX || lots >= LOTS_KEPT_MAX) {
    throw new RuleViolation(
      'lots_limit_exceeded',
      `account ${accountId} has ${activeLots} active lots (at most ${ACTIVE_LOTS_MAX}) and ${lots} in all (at most ${LOTS_KEPT_MAX})`,
      { activeLots, activeLotsMax: ACTIVE_LOTS_MAX, lots, lotsMax: LOTS_KEPT_MAX },
    );
  }
  return accountDecision(state, accountId, command.now, [{ type: 'CreditsGranted', data }], { grantId });
}

/** The grant's event data: the lot fields' defaults filled in, the expiry as Date.toISOString writes it. */
function grantData(command: GrantCredits): CreditsGranted['data'] {
  const { amount, source, reference, grantId } = command;
  // As Date.toISOString writes it, so expiries compare as strings in the spending order.
  const expiresAt = isZonedInstant(command.expiresAt) ? new Date(command.expiresAt).toISOString() : command.expiresAt;
  return {
    amount,
    source,
    ...(reference === undefined ? {} : { reference }),
    grantId,
    category: command.category ?? (source === 'promo' ? 'promotional' : 'paid'),
    priority: command.priority ?? LOT_PRIORITY_DEFAULT,
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
}

/**
 * An expiry a grant may carry: an instant after `now`, at most ten years ahead, with a
 * four-digit year. A time must name its zone (`Z` or an offset): without one JavaScript
 * reads it in the server's local time, and a lot would expire at a different instant
 * on each replica. A date alone is midnight UTC.
 */
const ZONED_INSTANT = /^\d{4}-\d{2}-\d{2}(T.+(Z|[+-]\d{2}:?\d{2}))?$/i;

function isExpiry(expiresAt: unknown, now: Date): boolean {
  if (!isZonedInstant(expiresAt) || !isInstant(now)) return false;
  const ms = Date.parse(expiresAt);
  const latest = new Date(now.getTime());
  latest.setUTCFullYear(latest.getUTCFullYear() + LOT_EXPIRY_YEARS_MAX);
  return ms > now.getTime() && ms <= latest.getTime();
}

/** An instant with its zone and a four-digit year, whenever it is: what an expiry is written as. */
function isZonedInstant(expiresAt: unknown): expiresAt is string {
  if (typeof expiresAt !== 'string' || !ZONED_INSTANT.test(expiresAt)) return false;
  const ms = Date.parse(expiresAt);
  return Number.isFinite(ms) && ms < Date.UTC(10000, 0, 1);
}

function sameGrant(lot: Lot, data: CreditsGranted['data']): boolean {
  return (
    lot.granted === data.amount &&
    lot.source === data.source &&
    lot.reference === data.reference &&
    lot.category === data.category &&
    lot.priority === data.priority &&
    lot.expiresAt === data.expiresAt
  );
}

export function decideDebitCredits(state: AccountState, command: DebitCredits): AccountDecision {
  requireValid([
    ['accountId', isId(command.accountId), RULES.id],
    ['amount', isAmount(command.amount), RULES.amount],
    ['reason', isText(command.reason, TEXT_LENGTH_MAX), TEXT_RULE],
    ['now', isInstant(command.now), RULES.now],
  ]);
  const { accountId, amount, reason, now } = command;
  requireDebitable(state, accountId, amount, now);
  const event: AccountEvent = {
    type: 'Debited',
    data: { amount, reason, lots: drawInOrder(state, amount, now.getTime()) },
  };
  return accountDecision(state, accountId, now, [event], {});
}

/**
 * The refusals every debit shares, a charge or a project start. An account that never got
 * a grant does not exist (API.md), so debiting it is `not_found` rather than
 * `insufficient_credits`: the caller most likely has the wrong id, and should be told so.
 * What can be spent excludes every lot past its expiry, whether the sweep recorded it yet or not.
 */
export function requireDebitable(state: AccountState, accountId: string, amount: number, now: Date): void {
  if (!state.exists) {
    throw new RuleViolation('not_found', `account ${accountId} does not exist`, { accountId });
  }
  const balance = spendableAt(state, now.getTime());
  if (balance < amount) {
    throw new RuleViolation('insufficient_credits', `account ${accountId} has ${balance} credits, needs ${amount}`, {
      balance,
      amount,
    });
  }
  // Start/fail cycles grow the debit total without new grants; keep it exact too.
  if (amount > Number.MAX_SAFE_INTEGER - state.totalDebited) {
    throw new RuleViolation('balance_limit_exceeded', 'the debit would take the account past the largest exact total', {
      totalDebited: state.totalDebited,
      amount,
    });
  }
}

/**
 * Removes what remains of an open lot. Credits of the lot held by running projects stay
 * with them; refunded later, they come back voided. So a lot with nothing remaining can
 * still be voided (amount 0). A lot already closed, or past its expiry, is `invalid_transition`.
 */
export function decideVoidGrant(state: AccountState, command: VoidGrant): AccountDecision<VoidReply> {
  requireValid([
    ['accountId', isId(command.accountId), RULES.id],
    ['grantId', isId(command.grantId), RULES.id],
    ['reason', isText(command.reason, TEXT_LENGTH_MAX), TEXT_RULE],
    ['now', isInstant(command.now), RULES.now],
  ]);
  const { accountId, grantId, reason, now } = command;
  const lot = requireLot(state, accountId, grantId);
  const status = lot.status === 'open' && isExpiredAt(lot, now.getTime()) ? 'expired' : lot.status;
  if (status !== 'open') {
    throw new RuleViolation('invalid_transition', `cannot void grant ${grantId}: it is ${status}`, { grantId, status });
  }
  const events: AccountEvent[] = [{ type: 'GrantVoided', data: { grantId, amount: lot.remaining, reason } }];
  return accountDecision(state, accountId, now, events, { grantId, voided: lot.remaining });
}

/**
 * The sweep's look at one lot: past its expiry with credits remaining, they expire. Anything
 * else (not yet due, already recorded, spent, voided, unknown) is left alone: no events and
 * no refusal, because the sweep's goal (nothing spendable past its expiry) already holds.
 */
export function decideExpireCredits(state: AccountState, command: ExpireCredits): AccountDecision<ExpireCreditsReply> {
  requireValid([
    ['accountId', isId(command.accountId), RULES.id],
    ['grantId', isId(command.grantId), RULES.id],
    ['now', isInstant(command.now), RULES.now],
  ]);
  const { accountId, grantId, now } = command;
  const lot = findLot(state, grantId);
  const due = lot !== undefined && lot.status === 'open' && lot.remaining > 0 && isExpiredAt(lot, now.getTime());
  const events: AccountEvent[] = due ? [{ type: 'CreditsExpired', data: { grantId, amount: lot.remaining } }] : [];
  return accountDecision(state, accountId, now, events, { grantId, expired: due ? lot.remaining : 0 });
}

function requireLot(state: AccountState, accountId: string, grantId: string): Lot {
  const lot = findLot(state, grantId);
  if (lot === undefined) {
    throw new RuleViolation('not_found', `account ${accountId} has no grant ${grantId}`, { accountId, grantId });
  }
  return lot;
}

export function decideAccount(state: AccountState, command: AccountCommand): AccountDecision {
  switch (command.type) {
    case 'GrantCredits':
      return decideGrantCredits(state, command);
    case 'DebitCredits':
      return decideDebitCredits(state, command);
    case 'VoidGrant':
      return decideVoidGrant(state, command);
    case 'ExpireCredits':
      return decideExpireCredits(state, command);
  }
}

function accountDecision<Extra extends object>(
  state: AccountState,
  accountId: string,
  now: Date,
  events: readonly AccountEvent[],
  extra: Extra,
): AccountDecision<AccountReply & Extra> {
  const next = events.reduce(evolveAccount, state);
  return { account: events, reply: { accountId, ...extra, balance: spendableAt(next, now.getTime()) } };
}
