import { accountIdOf, applyMoney, NO_MONEY, projectIdOf, type AccountMoney, type LedgerEvent } from '@ledger/domain';
import { asLedgerEvent, isAccountEvent, type AsLedgerEvent, type ProjectFigures } from '@ledger/projections';
import type { CheckedEvent, Violation } from './invariant-checker.js';
import type { LotFigures } from './lot-audit.js';

/**
 * The rows the read models should hold, folded from the events directly (a plain sum,
 * not the projections' SQL), so a projection bug or a hand-edited row shows up as a
 * difference. Each read model is folded only up to its own checkpoint: the rows read
 * in the same snapshot as that checkpoint are exactly the fold of the events up to it.
 */

export interface Mismatch {
  /** `accountId` for an account row, `projectId` for a project row. */
  accountId?: string;
  projectId?: string;
  field: string;
  projected: unknown;
  folded: unknown;
}

const STATUS_OF: Partial<Record<LedgerEvent['type'], string>> = {
  ProjectClaimed: 'processing',
  ProjectCompleted: 'completed',
  ProjectFailed: 'failed',
};

export class ReadModelFold {
  readonly accounts = new Map<string, AccountMoney>();
  readonly projects = new Map<string, ProjectFigures>();

  constructor(
    /** account_balances' checkpoint: account events after it are not in its rows yet. */
    private readonly accountsUpTo: bigint,
    /** projects' checkpoint. */
    private readonly projectsUpTo: bigint,
  ) {}

  feed(stored: CheckedEvent): void {
    const event = asLedgerEvent(stored);
    if (!event) return;
    const accountId = accountIdOf(event.streamName);
    if (accountId !== undefined) {
      if (!isAccountEvent(event)) return;
      if (event.position <= this.accountsUpTo) {
        this.accounts.set(accountId, applyMoney(this.accounts.get(accountId) ?? NO_MONEY, event));
      }
      // The projects read model counts a project's refunds from the account stream.
      const projectId = event.type === 'Refunded' ? event.data.projectId : undefined;
      if (projectId !== undefined && event.position <= this.projectsUpTo) {
        const project = this.projects.get(projectId);
        if (project) project.refunded += event.data.amount;
      }
      return;
    }
    const projectId = projectIdOf(event.streamName);
    if (projectId !== undefined && event.position <= this.projectsUpTo) this.feedProject(projectId, event);
  }

  private feedProject(projectId: string, event: AsLedgerEvent<CheckedEvent>): void {
    if (event.type === 'ProjectStarted') {
      this.projects.set(projectId, {
        accountId: event.data.accountId,
        status: 'pending',
        cost: event.data.cost,
        creditsUsed: null,
        refunded: 0,
        attempt: 0,
      });
      return;
    }
    const row = this.projects.get(projectId);
    const status = STATUS_OF[event.type];
    if (!row || !status) return;
    row.status = status;
    if (event.type === 'ProjectClaimed') row.attempt = event.data.attempt;
    if (event.type === 'ProjectCompleted') row.creditsUsed = event.data.creditsUsed;
  }
}

/**
 * Hands every field that differs to `report`, for every id on either side (a missing row
 * is a difference too), and returns how many ids it compared.
 */
export function compareRows<Row extends object>(
  idField: 'accountId' | 'projectId',
  projected: ReadonlyMap<string, Row>,
  folded: ReadonlyMap<string, Row>,
  report: (mismatch: Mismatch) => void,
): number {
  let compared = 0;
  const compare = (id: string, row: Row | undefined, fold: Row | undefined) => {
    compared++;
    if (!row || !fold) {
      report({ [idField]: id, field: 'row', projected: row ? 'present' : null, folded: fold ? 'present' : null });
      return;
    }
    for (const field of Object.keys(fold) as (keyof Row)[]) {
      if (row[field] !== fold[field]) {
        report({ [idField]: id, field: String(field), projected: row[field], folded: fold[field] });
      }
    }
  };
  for (const [id, row] of projected) compare(id, row, folded.get(id));
  for (const [id, fold] of folded) if (!projected.has(id)) compare(id, undefined, fold);
  return compared;
}

/**
 * I1 on an account's row itself: its balance is its totals' sum; and I7: its projected lots
 * (`lots`, when they stand at the same position as the row) hold the balance.
 */
export function accountRowViolations(
  accountId: string,
  row: AccountMoney,
  lots: readonly LotFigures[] | undefined,
  report: (violation: Violation) => void,
): void {
  const expected = row.totalGranted - row.totalDebited + row.totalRefunded - row.totalExpired - row.totalVoided;
  if (row.balance !== expected) {
    report({
      invariant: 'I1',
      id: accountId,
      message: `account ${accountId}: projected balance ${row.balance} is not granted − debited + refunded − expired − voided = ${expected}`,
      position: null,
    });
  }
  const held = lots?.reduce((sum, lot) => sum + lot.remaining, 0);
  if (held !== undefined && held !== row.balance) {
    report({
      invariant: 'I7',
      id: accountId,
      message: `account ${accountId}: projected lots hold ${held}, the projected balance is ${row.balance}`,
      position: null,
    });
  }
}
