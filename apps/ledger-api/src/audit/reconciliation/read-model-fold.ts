import type { CheckedEvent } from './invariant-checker.js';

/**
 * The rows the read models should hold, folded from the events directly (a plain sum,
 * not the projections' SQL), so a projection bug or a hand-edited row shows up as a
 * difference. Each read model is folded only up to its own checkpoint: the rows read
 * in the same snapshot as that checkpoint are exactly the fold of the events up to it.
 */

export interface AccountRow {
  balance: number;
  totalGranted: number;
  totalDebited: number;
  totalRefunded: number;
}

export interface ProjectRow {
  accountId: string;
  status: string;
  cost: number;
  creditsUsed: number | null;
  refunded: number;
  attempt: number;
}

export interface Mismatch {
  /** `accountId` for an account row, `projectId` for a project row. */
  accountId?: string;
  projectId?: string;
  field: string;
  projected: unknown;
  folded: unknown;
}

const ACCOUNT_PREFIX = 'account-';
const PROJECT_PREFIX = 'project-';
const STATUS_OF: Record<string, string> = {
  ProjectClaimed: 'processing',
  ProjectCompleted: 'completed',
  ProjectFailed: 'failed',
};

export class ReadModelFold {
  readonly accounts = new Map<string, AccountRow>();
  readonly projects = new Map<string, ProjectRow>();

  constructor(
    /** account_balances' checkpoint: account events after it are not in its rows yet. */
    private readonly accountsUpTo: bigint,
    /** projects' checkpoint. */
    private readonly projectsUpTo: bigint,
  ) {}

  feed(event: CheckedEvent): void {
    const amount = typeof event.data.amount === 'number' ? event.data.amount : 0;
    if (event.streamName.startsWith(ACCOUNT_PREFIX)) {
      if (event.position <= this.accountsUpTo)
        this.feedAccount(event.streamName.slice(ACCOUNT_PREFIX.length), event.type, amount);
      // The projects read model counts a project's refunds from the account stream.
      const projectId = event.data.projectId;
      if (event.type === 'Refunded' && typeof projectId === 'string' && event.position <= this.projectsUpTo) {
        const project = this.projects.get(projectId);
        if (project) project.refunded += amount;
      }
    } else if (event.streamName.startsWith(PROJECT_PREFIX) && event.position <= this.projectsUpTo) {
      this.feedProject(event.streamName.slice(PROJECT_PREFIX.length), event);
    }
  }

  private feedAccount(accountId: string, type: string, amount: number): void {
    if (type !== 'CreditsGranted' && type !== 'Debited' && type !== 'Refunded') return;
    let row = this.accounts.get(accountId);
    if (!row) {
      row = { balance: 0, totalGranted: 0, totalDebited: 0, totalRefunded: 0 };
      this.accounts.set(accountId, row);
    }
    if (type === 'CreditsGranted') {
      row.balance += amount;
      row.totalGranted += amount;
    } else if (type === 'Debited') {
      row.balance -= amount;
      row.totalDebited += amount;
    } else {
      row.balance += amount;
      row.totalRefunded += amount;
    }
  }

  private feedProject(projectId: string, event: CheckedEvent): void {
    const d = event.data;
    if (event.type === 'ProjectStarted') {
      this.projects.set(projectId, {
        accountId: String(d.accountId),
        status: 'pending',
        cost: Number(d.cost),
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
    if (event.type === 'ProjectClaimed') row.attempt = Number(d.attempt);
    if (event.type === 'ProjectCompleted') row.creditsUsed = Number(d.creditsUsed);
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
