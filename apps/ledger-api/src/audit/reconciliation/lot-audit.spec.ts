import { randomUUID } from 'node:crypto';
import type { StoredEvent } from '@ledger/event-store';
import type { Violation } from './invariant-checker.js';
import { LotAudit, type LotFigures } from './lot-audit.js';
import type { Mismatch } from './read-model-fold.js';

const T0 = Date.UTC(2030, 0, 1);

function log(...events: [type: string, data: Record<string, unknown>, atMs?: number][]): StoredEvent[] {
  return events.map(([type, data, atMs], i) => ({
    id: randomUUID(),
    streamName: 'account-a',
    type,
    data,
    metadata: {},
    revision: BigInt(i),
    position: BigInt(i + 1),
    createdAt: new Date(atMs ?? T0 + i * 1_000),
  }));
}

function audit(events: StoredEvent[], upTo = BigInt(events.length)) {
  const violations: Violation[] = [];
  const lots = new LotAudit(upTo, (v) => violations.push(v));
  for (const event of events) lots.feed(event);
  return { lots, violations };
}

const promo = { amount: 10, source: 'promo', grantId: 'promo', category: 'promotional', priority: 50 };
const paid = { amount: 10, source: 'purchase', grantId: 'paid', category: 'paid', priority: 50 };

describe('reconciliation: I7 per lot, with the domain fold', () => {
  it('finds nothing wrong with draws in the spending order', () => {
    const { violations } = audit(
      log(
        ['CreditsGranted', paid],
        ['CreditsGranted', { ...promo, expiresAt: new Date(T0 + 60_000).toISOString() }],
        [
          'Debited',
          {
            amount: 12,
            reason: 'fee',
            lots: [
              { grantId: 'promo', amount: 10 },
              { grantId: 'paid', amount: 2 },
            ],
          },
        ],
      ),
    );
    expect(violations).toEqual([]);
  });

  it('judges a debit at its decision time (metadata.at), not at when the store wrote it', () => {
    const expiresAtMs = T0 + 60_000;
    const events = log(
      ['CreditsGranted', { ...promo, expiresAt: new Date(expiresAtMs).toISOString() }],
      ['CreditsGranted', paid],
      ['Debited', { amount: 1, reason: 'fee', lots: [{ grantId: 'promo', amount: 1 }] }, expiresAtMs + 1],
    );
    // Decided 1 ms before the promotional lot's expiry, stored 1 ms after it.
    const decided = { ...events[2]!, metadata: { at: new Date(expiresAtMs - 1).toISOString() } };
    expect(audit([events[0]!, events[1]!, decided]).violations).toEqual([]);
    // Without its decision time, the store's time is all there is: then it drew at its expiry.
    expect(audit(events).violations).toEqual([
      expect.objectContaining({ invariant: 'I7', message: expect.stringContaining('at or after its expiry') }),
      expect.objectContaining({ invariant: 'I7', message: expect.stringContaining('the spending order draws') }),
    ]);
  });

  it('reports a debit out of the spending order, and one drawn from a lot past its expiry', () => {
    const { violations } = audit(
      log(
        ['CreditsGranted', paid],
        ['CreditsGranted', { ...promo, expiresAt: new Date(T0 + 4_000).toISOString() }],
        ['Debited', { amount: 2, reason: 'fee', lots: [{ grantId: 'paid', amount: 2 }] }],
        ['Debited', { amount: 1, reason: 'fee', lots: [{ grantId: 'promo', amount: 1 }] }, T0 + 5_000],
      ),
    );
    expect(violations.map((v) => [v.invariant, v.position, v.message])).toEqual([
      ['I7', 3, expect.stringContaining('the spending order draws [{"grantId":"promo","amount":2}]')],
      ['I7', 4, expect.stringContaining('at or after its expiry')],
      ['I7', 4, expect.stringContaining('the spending order draws [{"grantId":"paid","amount":1}]')],
    ]);
  });

  it('reports a lot drawn below zero (the fold refuses it) and stops following that account', () => {
    const { violations } = audit(
      log(
        ['CreditsGranted', paid],
        ['Debited', { amount: 11, reason: 'fee', lots: [{ grantId: 'paid', amount: 11 }] }],
      ),
    );
    expect(violations).toEqual([expect.objectContaining({ invariant: 'I7', id: 'a', position: 2 })]);
  });

  it('compares the projected lots with the fold at the lots checkpoint, field by field', () => {
    const events = log(
      ['CreditsGranted', paid],
      ['Debited', { amount: 4, reason: 'fee', lots: [{ grantId: 'paid', amount: 4 }] }],
      ['CreditsGranted', promo],
    );
    // The lots read model stands after the debit: the promo lot is not in it yet.
    const { lots } = audit(events, 2n);
    const mismatches: Mismatch[] = [];
    const row = (figures: LotFigures) => new Map([['a', new Map([['paid', figures]])]]);
    lots.compare(row({ category: 'paid', granted: 10, remaining: 6, status: 'active' }), (m) => mismatches.push(m));
    expect(mismatches).toEqual([]);
    lots.compare(row({ category: 'paid', granted: 10, remaining: 7, status: 'active' }), (m) => mismatches.push(m));
    lots.compare(new Map(), (m) => mismatches.push(m));
    expect(mismatches).toEqual([
      { accountId: 'a', field: 'lots.paid.remaining', projected: 7, folded: 6 },
      { accountId: 'a', field: 'lots.paid', projected: null, folded: 'present' },
    ]);
  });

  it('folds an account from before lots: paid lots named after their events, drawn by the spending order', () => {
    const events = log(
      ['CreditsGranted', { amount: 5, source: 'purchase' }],
      ['Debited', { amount: 3, reason: 'fee' }],
    );
    const { lots, violations } = audit(events);
    expect(violations).toEqual([]);
    const mismatches: Mismatch[] = [];
    const figures: LotFigures = { category: 'paid', granted: 5, remaining: 2, status: 'active' };
    lots.compare(new Map([['a', new Map([[events[0]!.id, figures]])]]), (m) => mismatches.push(m));
    expect(mismatches).toEqual([]);
  });
});
