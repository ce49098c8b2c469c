import { AMOUNT_MAX } from '../limits.js';
import type { FieldProblem } from '../validation.js';
import { specification } from '../testing/specification.js';
import type { AccountCommand, DebitCredits, GrantCredits } from './account.commands.js';
import { decideAccount } from './account.decide.js';
import type { AccountEvent, GrantSource } from './account.events.js';
import { evolveAccount, initialAccountState } from './account.state.js';

const given = specification({
  initialState: initialAccountState,
  evolve: evolveAccount,
  decide: decideAccount,
  eventsOf: (decision) => decision.account,
});

const MAX = Number.MAX_SAFE_INTEGER;
const NOW = new Date(Date.UTC(2030, 0, 1));
// The account's first lot (paid, never expiring): what the plain debits and refunds below draw from.
const granted = (amount: number, grantId = 'g0'): AccountEvent => ({
  type: 'CreditsGranted',
  data: { amount, source: 'purchase', grantId, category: 'paid', priority: 50 },
});
const debited = (amount: number, projectId?: string): AccountEvent => ({
  type: 'Debited',
  data:
    projectId === undefined
      ? { amount, reason: 'fee', lots: [{ grantId: 'g0', amount }] }
      : { amount, projectId, reason: 'project_started', lots: [{ grantId: 'g0', amount }] },
});
const refunded = (amount: number, projectId: string): AccountEvent => ({
  type: 'Refunded',
  data: { amount, projectId, reason: 'project_failed', lots: [{ grantId: 'g0', amount }] },
});
const grant = (amount: number, extra: Partial<GrantCredits> = {}): AccountCommand => ({
  type: 'GrantCredits',
  accountId: 'acc-1',
  amount,
  source: 'purchase',
  grantId: 'new',
  now: NOW,
  ...extra,
});
const debit = (amount: number, extra: Partial<DebitCredits> = {}): AccountCommand => ({
  type: 'DebitCredits',
  accountId: 'acc-1',
  amount,
  reason: 'fee',
  now: NOW,
  ...extra,
});
const newLot = (amount: number, extra: object = {}): AccountEvent => ({
  type: 'CreditsGranted',
  data: { amount, source: 'purchase', grantId: 'new', category: 'paid', priority: 50, ...extra },
});
const badFields = (details: unknown) => (details as { fields: FieldProblem[] }).fields.map((problem) => problem.field);

describe('GrantCredits', () => {
  it('creates the account on its first grant and replies with the new balance', () => {
    const decision = given([])
      .when(grant(100))
      .then([newLot(100)]);
    expect(decision.reply).toEqual({ accountId: 'acc-1', grantId: 'new', balance: 100 });
  });

  it('adds to an existing balance and keeps the reference', () => {
    const decision = given([granted(100), debited(30)])
      .when(grant(5, { source: 'promo', reference: 'spring-sale' }))
      .then([newLot(5, { source: 'promo', reference: 'spring-sale', category: 'promotional' })]);
    expect(decision.reply.balance).toBe(75);
  });

  it.each(['purchase', 'promo', 'adjustment', 'migration'] as const)('accepts source %s', (source) => {
    given([])
      .when(grant(1, { source }))
      .then([newLot(1, { source, category: source === 'promo' ? 'promotional' : 'paid' })]);
  });

  it('accepts the largest amount and refuses one past it', () => {
    given([])
      .when(grant(AMOUNT_MAX))
      .then([newLot(AMOUNT_MAX)]);
    given([])
      .when(grant(AMOUNT_MAX + 1))
      .thenFails('validation_failed');
  });

  it.each([0, -1, 1.5, Number.NaN, Infinity])('refuses the amount %p', (amount) => {
    given([]).when(grant(amount)).thenFails('validation_failed');
  });

  it('names every bad field at once', () => {
    const violation = given([])
      .when(grant('12' as unknown as number, { accountId: 'has space', source: 'gift' as GrantSource, reference: '' }))
      .thenFails('validation_failed');
    expect(badFields(violation.details)).toEqual(['accountId', 'amount', 'source', 'reference']);
  });

  it('grants up to the largest exact total and refuses one credit past it', () => {
    const history = [granted(MAX - 10)];
    given(history)
      .when(grant(10))
      .then([newLot(10)]);
    const violation = given(history).when(grant(11)).thenFails('balance_limit_exceeded');
    expect(violation.details).toEqual({ totalGranted: MAX - 10, amount: 11 });
  });

  it('bounds lifetime grants, not only the balance, so a later refund stays exact', () => {
    // Balance 10 here, yet a grant of 11 is refused: a refund of the open debit could follow.
    given([granted(MAX - 10), debited(MAX - 20, 'p1')])
      .when(grant(11))
      .thenFails('balance_limit_exceeded');
  });
});

describe('DebitCredits', () => {
  it('takes the amount from the balance with its reason', () => {
    const decision = given([granted(100)])
      .when(debit(40))
      .then([debited(40)]);
    expect(decision.reply).toEqual({ accountId: 'acc-1', balance: 60 });
  });

  it('may take the whole balance and refuses one credit more', () => {
    given([granted(100), debited(30)])
      .when(debit(70))
      .then([debited(70)]);
    const violation = given([granted(100), debited(30)])
      .when(debit(71))
      .thenFails('insufficient_credits');
    expect(violation.details).toEqual({ balance: 70, amount: 71 });
  });

  it('counts refunds in the balance', () => {
    given([granted(10), debited(10, 'p1'), refunded(4, 'p1')])
      .when(debit(4))
      .then([debited(4)]);
  });

  it('refuses an account that never had a grant as not found', () => {
    given([]).when(debit(1)).thenFails('not_found');
  });

  it('keeps the debit total exact: up to its limit, then refused', () => {
    const history = [granted(MAX), debited(MAX - 10, 'p1'), refunded(MAX - 10, 'p1')];
    given(history)
      .when(debit(10))
      .then([debited(10)]);
    given(history).when(debit(11)).thenFails('balance_limit_exceeded');
  });

  it.each([0, -5, 2.5, AMOUNT_MAX + 1])('refuses the amount %p', (amount) => {
    given([granted(100)])
      .when(debit(amount))
      .thenFails('validation_failed');
  });

  it('requires a reason', () => {
    const violation = given([granted(100)])
      .when(debit(1, { reason: '' }))
      .thenFails('validation_failed');
    expect(badFields(violation.details)).toEqual(['reason']);
  });
});

describe('evolveAccount', () => {
  it('folds the totals', () => {
    const state = [granted(50), debited(20, 'p1'), refunded(5, 'p1'), debited(10)].reduce(
      evolveAccount,
      initialAccountState(),
    );
    expect(state).toEqual({
      exists: true,
      balance: 25,
      totalGranted: 50,
      totalDebited: 30,
      totalRefunded: 5,
      totalExpired: 0,
      totalVoided: 0,
      lots: [
        {
          grantId: 'g0',
          seq: 0,
          category: 'paid',
          priority: 50,
          source: 'purchase',
          granted: 50,
          remaining: 25,
          outstanding: 25,
          status: 'open',
        },
      ],
    });
  });

  it('asserts the balance never goes below zero', () => {
    expect(() => [granted(5), debited(6)].reduce(evolveAccount, initialAccountState())).toThrow(/below zero/);
  });

  it('asserts the totals stay safe integers', () => {
    expect(() => [granted(MAX), granted(1, 'g1')].reduce(evolveAccount, initialAccountState())).toThrow(/safe integer/);
  });

  it('asserts nothing is refunded beyond what was debited', () => {
    expect(() => [granted(5), refunded(1, 'p1')].reduce(evolveAccount, initialAccountState())).toThrow(/refunded/);
  });
});
