import {
  accountIdOf,
  drawInOrder,
  evolveAccount,
  findLot,
  initialAccountState,
  isExpiredAt,
  lotsRemaining,
  type AccountState,
  type Lot,
  type LotShare,
  type StoredAccountEvent,
} from '@ledger/domain';
import type { StoredEvent } from '@ledger/event-store';
import { asLedgerEvent, isAccountEvent, type LotRow } from '@ledger/projections';
import type { Violation } from './invariant-checker.js';
import type { Mismatch } from './read-model-fold.js';

/** What reconciliation compares of a lot: its row's figures, as the read model names them. */
export type LotFigures = Pick<LotRow, 'category' | 'granted' | 'remaining' | 'status'>;

export interface AccountLots {
  state: AccountState;
  /** Set once the domain's fold refused an event: the account's lots are not followed further. */
  broken: boolean;
  /** The fold as of the lots checkpoint, kept when the log goes past it (its lots listed only to compare). */
  atCheckpoint: AccountState | undefined;
}

/**
 * I7 per lot, from the log, with the domain's own fold of an account's lots
 * (`evolveAccount`): every `Debited` drew in the spending order (`drawInOrder` at the
 * time it was decided, its command's `now`) and from no lot at or after its `expiresAt`; the lots' remaining credits
 * add up to the balance; no lot goes below zero (the fold refuses it, which is reported
 * here). Then the projected lot rows against that fold, up to the lots checkpoint.
 */
export class LotAudit {
  private readonly accounts = new Map<string, AccountLots>();

  constructor(
    /** The lots read model's checkpoint: the fold is compared with its rows as of there. */
    private readonly lotsUpTo: bigint,
    private readonly report: (violation: Violation) => void,
  ) {}

  feed(stored: StoredEvent): void {
    const event = asLedgerEvent(stored);
    const accountId = accountIdOf(stored.streamName);
    if (!event || accountId === undefined || !isAccountEvent(event)) return;
    const account = this.accounts.get(accountId) ?? {
      state: initialAccountState(),
      broken: false,
      atCheckpoint: undefined,
    };
    this.accounts.set(accountId, account);
    if (account.broken) return;
    const position = Number(stored.position);
    if (event.type === 'Debited' && event.data.lots) {
      this.checkDraw(accountId, account.state, event.data.amount, event.data.lots, decidedAt(stored), position);
    }
    try {
      account.state = evolveAccount(account.state, { ...event, id: stored.id } as StoredAccountEvent);
    } catch (error) {
      account.broken = true;
      const reason = error instanceof Error ? error.message : String(error);
      this.report({
        invariant: 'I7',
        id: accountId,
        message: `account ${accountId}: ${event.type} ${reason}`,
        position,
      });
      return;
    }
    const remaining = lotsRemaining(account.state);
    if (remaining !== account.state.balance) {
      account.broken = true;
      this.report({
        invariant: 'I7',
        id: accountId,
        message: `account ${accountId}: its lots hold ${remaining}, its balance is ${account.state.balance}`,
        position,
      });
    }
    if (stored.position <= this.lotsUpTo) account.atCheckpoint = account.state;
  }

  /** An account's lots fold as plain JSON, and back (the continuous check keeps it per account). */
  exportAccount(accountId: string): AccountLots | undefined {
    return this.accounts.get(accountId);
  }

  importAccount(accountId: string, account: AccountLots): void {
    this.accounts.set(accountId, account);
  }

  private checkDraw(
    accountId: string,
    lots: AccountState,
    amount: number,
    drawn: readonly LotShare[],
    at: Date,
    position: number,
  ): void {
    for (const share of drawn) {
      const lot = findLot(lots, share.grantId);
      if (lot && isExpiredAt(lot, at.getTime())) {
        this.report({
          invariant: 'I7',
          id: accountId,
          message: `account ${accountId}: a debit drew ${share.amount} from lot ${lot.grantId} at ${at.toISOString()}, at or after its expiry ${lot.expiresAt}`,
          position,
        });
      }
    }
    let expected: LotShare[];
    try {
      expected = drawInOrder(lots, amount, at.getTime());
    } catch {
      return; // Not enough spendable: the fold reports what is wrong with this debit.
    }
    if (JSON.stringify(expected) !== JSON.stringify(drawn.map(({ grantId, amount: a }) => ({ grantId, amount: a })))) {
      this.report({
        invariant: 'I7',
        id: accountId,
        message: `account ${accountId}: a debit drew ${JSON.stringify(drawn)}, the spending order draws ${JSON.stringify(expected)}`,
        position,
      });
    }
  }

  /** Every lot of the fold against its projected row (and every row against the fold), field by field. */
  compare(projected: ReadonlyMap<string, ReadonlyMap<string, LotFigures>>, mismatch: (m: Mismatch) => void): void {
    const accountIds = new Set([...this.accounts.keys(), ...projected.keys()]);
    for (const accountId of accountIds) this.compareAccount(accountId, projected.get(accountId), mismatch);
  }

  /** One account's lots (`rows`: its projected lots by grant id) against the fold; nothing for a broken fold. */
  compareAccount(
    accountId: string,
    rows: ReadonlyMap<string, LotFigures> = new Map(),
    mismatch: (m: Mismatch) => void,
  ): void {
    const account = this.accounts.get(accountId);
    if (account?.broken) return;
    const lots = new Map((account?.atCheckpoint?.lots ?? []).map((lot) => [lot.grantId, figuresOf(lot)]));
    for (const grantId of new Set([...rows.keys(), ...lots.keys()])) {
      const row = rows.get(grantId);
      const lot = lots.get(grantId);
      if (!row || !lot) {
        mismatch({
          accountId,
          field: `lots.${grantId}`,
          projected: row ? 'present' : null,
          folded: lot ? 'present' : null,
        });
        continue;
      }
      for (const field of ['category', 'granted', 'remaining', 'status'] as const) {
        if (row[field] !== lot[field]) {
          mismatch({ accountId, field: `lots.${grantId}.${field}`, projected: row[field], folded: lot[field] });
        }
      }
    }
  }
}

/**
 * When the event was decided: its command's `now` (`metadata.at`), against which the decision
 * judged expiry and the spending order. The store's `createdAt` comes later (a debit decided
 * just before a lot's expiry may be stored just after it); events without `at` fall back to it.
 */
function decidedAt(stored: StoredEvent): Date {
  const at = stored.metadata.at === undefined ? Number.NaN : Date.parse(stored.metadata.at);
  return Number.isFinite(at) ? new Date(at) : stored.createdAt;
}

/** A lot of the domain's fold as the read model shows it: an open lot is active while it holds credits. */
function figuresOf(lot: Lot): LotFigures {
  const status = lot.status === 'open' ? (lot.remaining > 0 ? 'active' : 'exhausted') : lot.status;
  return { category: lot.category, granted: lot.granted, remaining: lot.remaining, status };
}
