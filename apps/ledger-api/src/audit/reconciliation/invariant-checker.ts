/**
 * Checks the ledger's invariants I1–I4 (DESIGN.md) from the events alone, in one pass
 * over the global log: feed every event in position order, then `finish()`. Pure: no
 * I/O, no clock. Memory is one small aggregate per account and per project, never the
 * events themselves, so a log of any length can be checked.
 *
 * It reports, it does not assert: the events are what was stored, and a broken
 * invariant is what an auditor wants to read about, not a crash.
 */

import {
  accountIdOf,
  applyMoney,
  isAmountOf,
  leastAmountOf,
  NO_MONEY,
  projectIdOf,
  type AccountMoney,
} from '@ledger/domain';
import { asLedgerEvent, isAccountEvent } from '@ledger/projections';

export type Invariant = 'I1' | 'I2' | 'I3' | 'I4' | 'I7';

export interface Violation {
  invariant: Invariant;
  /** The account's or the project's id (the message says which). */
  id: string;
  message: string;
  /** Where it was seen, or null for what only the whole log shows (a missing refund). */
  position: number | null;
}

/** What the checker reads of an event: a stored event fits. Its data is checked where a value is reported on. */
export interface CheckedEvent {
  streamName: string;
  type: string;
  data: Record<string, unknown>;
  position: bigint;
}

export interface InvariantReport {
  checkedAccounts: number;
  checkedProjects: number;
  /** The first `violationsMax`, in the order found. */
  violations: Violation[];
  /** All of them, also those past `violationsMax`. */
  violationCount: number;
}

export interface AccountAggregate {
  money: AccountMoney;
  belowZeroReported: boolean;
}

interface ProjectAggregate {
  started: { accountId: string; cost: number } | undefined;
  debits: { accountId: string; amount: number }[];
  refunded: number;
  refundAccounts: Set<string>;
  refundReasons: Set<string>;
  terminal: { type: 'ProjectCompleted' | 'ProjectFailed'; creditsUsed: number | undefined } | undefined;
  laterEventReported: boolean;
}

/** A project's aggregate as JSON (its sets as arrays). */
export type ProjectAggregateJson = Omit<ProjectAggregate, 'refundAccounts' | 'refundReasons'> & {
  refundAccounts: string[];
  refundReasons: string[];
};

export const VIOLATIONS_MAX_DEFAULT = 1_000;
// A project has one debit; more are a violation already, so keeping a few is enough to say so.
const DEBITS_KEPT_MAX = 4;

export class InvariantChecker {
  private readonly accounts = new Map<string, AccountAggregate>();
  private readonly projects = new Map<string, ProjectAggregate>();
  private readonly violations: Violation[] = [];
  private violationCount = 0;

  constructor(private readonly violationsMax = VIOLATIONS_MAX_DEFAULT) {}

  feed(event: CheckedEvent): void {
    const accountId = accountIdOf(event.streamName);
    if (accountId !== undefined) {
      this.feedAccount(accountId, event);
      return;
    }
    const projectId = projectIdOf(event.streamName);
    if (projectId !== undefined) this.feedProject(projectId, event);
    // Other streams (idempotency records) move no money and have no lifecycle.
  }

  /**
   * The aggregates of the streams this checker has seen, as plain JSON, and back: the
   * continuous check keeps them per stream between its batches (each batch loads the
   * streams it touches, feeds its events, and `finish()` judges just those streams).
   */
  exportAccount(accountId: string): AccountAggregate | undefined {
    return this.accounts.get(accountId);
  }

  importAccount(accountId: string, account: AccountAggregate): void {
    this.accounts.set(accountId, account);
  }

  exportProject(projectId: string): ProjectAggregateJson | undefined {
    const project = this.projects.get(projectId);
    return (
      project && { ...project, refundAccounts: [...project.refundAccounts], refundReasons: [...project.refundReasons] }
    );
  }

  importProject(projectId: string, project: ProjectAggregateJson): void {
    this.projects.set(projectId, {
      ...project,
      refundAccounts: new Set(project.refundAccounts),
      refundReasons: new Set(project.refundReasons),
    });
  }

  /** The checks that need the whole log: every debit matched, every refund owed paid. */
  finish(): InvariantReport {
    for (const [accountId, account] of this.accounts) {
      const { totalRefunded, totalDebited } = account.money;
      if (totalRefunded > totalDebited) {
        this.refundedMoreThanDebited(`account ${accountId}`, accountId, totalRefunded, `debits ${totalDebited}`);
      }
    }
    for (const [projectId, project] of this.projects) this.finishProject(projectId, project);
    return {
      checkedAccounts: this.accounts.size,
      checkedProjects: this.projects.size,
      violations: [...this.violations],
      violationCount: this.violationCount,
    };
  }

  private feedAccount(accountId: string, stored: CheckedEvent): void {
    const event = asLedgerEvent(stored);
    if (!event || !isAccountEvent(event)) return;
    const account = this.account(accountId);
    const { amount } = event.data;
    const position = Number(event.position);
    // As the domain's fold takes it: a void may move nothing, every other movement at least one credit.
    if (!isAmountOf(event.type, amount)) {
      this.report(
        'I1',
        accountId,
        position,
        `account ${accountId}: ${event.type} with amount ${amount}, not a ${leastAmountOf(event.type) === 0 ? 'non-negative' : 'positive'} integer`,
      );
      return;
    }
    account.money = applyMoney(account.money, event);
    if (event.type === 'Debited' && event.data.projectId !== undefined) {
      this.debitProject(event.data.projectId, accountId, amount, position);
    } else if (event.type === 'Refunded' && event.data.projectId !== undefined) {
      this.refundProject(event.data.projectId, accountId, amount, event.data.reason, position);
    }
    if (account.money.balance < 0 && !account.belowZeroReported) {
      account.belowZeroReported = true;
      this.report('I1', accountId, position, `account ${accountId}: balance fell to ${account.money.balance}`);
    }
  }

  private debitProject(projectId: string, accountId: string, amount: number, position: number): void {
    const project = this.project(projectId);
    if (project.debits.length === 1) {
      this.report('I4', projectId, position, `project ${projectId} was debited more than once`);
    }
    if (project.debits.length < DEBITS_KEPT_MAX) project.debits.push({ accountId, amount });
  }

  private refundProject(projectId: string, accountId: string, amount: number, reason: string, position: number): void {
    const project = this.project(projectId);
    project.refunded += amount;
    project.refundAccounts.add(accountId);
    // A refund without a reason is a violation of its own kind only if another has none too.
    const cause = typeof reason === 'string' ? reason : '';
    if (project.refundReasons.has(cause)) {
      this.report('I2', projectId, position, `project ${projectId} was refunded twice for the cause '${cause}'`);
    }
    project.refundReasons.add(cause);
  }

  private feedProject(projectId: string, stored: CheckedEvent): void {
    const project = this.project(projectId);
    // Checked by its type's name first: any event, even of a type the domain does not know, counts for I3.
    const { type } = stored;
    const position = Number(stored.position);
    if (type === 'ProjectAssetsAttached') {
      // Assets annotate a completed project's result, the one thing allowed after its end:
      // they change neither its state nor any money.
      if (project.terminal?.type !== 'ProjectCompleted') {
        this.report('I3', projectId, position, `project ${projectId}: ProjectAssetsAttached before it completed`);
      }
      return;
    }
    if (project.terminal) {
      if (!project.laterEventReported) {
        project.laterEventReported = true;
        const what = isTerminalType(type) ? 'a second terminal event' : 'an event';
        this.report(
          'I3',
          projectId,
          position,
          `project ${projectId}: ${what} (${type}) after ${project.terminal.type}`,
        );
      }
      return;
    }
    const event = asLedgerEvent(stored);
    if (event?.type === 'ProjectStarted') {
      if (project.started) {
        this.report('I3', projectId, position, `project ${projectId} was started twice`);
        return;
      }
      const { accountId, cost } = event.data;
      project.started = { accountId, cost: isPositiveInteger(cost) ? cost : Number.NaN };
      return;
    }
    if (!project.started) {
      this.report('I3', projectId, position, `project ${projectId}: ${type} before ProjectStarted`);
      return;
    }
    if (event?.type === 'ProjectCompleted') {
      const creditsUsed = event.data.creditsUsed;
      const valid =
        typeof creditsUsed === 'number' &&
        Number.isSafeInteger(creditsUsed) &&
        creditsUsed >= 0 &&
        creditsUsed <= project.started.cost;
      if (!valid) {
        this.report(
          'I2',
          projectId,
          position,
          `project ${projectId} used ${creditsUsed} credits of its cost ${project.started.cost}`,
        );
      }
      project.terminal = { type: 'ProjectCompleted', creditsUsed: valid ? creditsUsed : undefined };
    } else if (event?.type === 'ProjectFailed') {
      project.terminal = { type: 'ProjectFailed', creditsUsed: undefined };
    }
  }

  private finishProject(projectId: string, project: ProjectAggregate): void {
    const { started, debits, refunded, terminal } = project;
    const [debit] = debits;
    if (!started) {
      if (debit)
        this.report('I4', projectId, null, `project ${projectId} was debited ${debit.amount} but never started`);
      if (refunded > 0)
        this.report('I2', projectId, null, `project ${projectId} was refunded ${refunded} but never started`);
      return;
    }
    if (!debit) {
      this.report('I4', projectId, null, `project ${projectId} was started without its debit`);
    } else if (debit.amount !== started.cost || debit.accountId !== started.accountId) {
      this.report(
        'I4',
        projectId,
        null,
        `project ${projectId} costs ${started.cost} to account ${started.accountId}, but account ${debit.accountId} was debited ${debit.amount}`,
      );
    }
    const debited = debits.reduce((sum, d) => sum + d.amount, 0);
    if (refunded > debited) {
      this.refundedMoreThanDebited(`project ${projectId}`, projectId, refunded, `debit ${debited}`);
    }
    if ([...project.refundAccounts].some((accountId) => accountId !== started.accountId)) {
      this.report(
        'I2',
        projectId,
        null,
        `project ${projectId} was refunded to an account other than its payer ${started.accountId}`,
      );
    }
    if (!terminal && refunded > 0) {
      // Credits given back while the project can still deliver: the stalled-worker double payout.
      this.report('I2', projectId, null, `project ${projectId} was refunded ${refunded} before it ended`);
    }
    const owed = owedRefund(started.cost, terminal);
    if (owed !== undefined && refunded !== owed) {
      const state = terminal?.type === 'ProjectFailed' ? 'failed' : 'completed';
      this.report('I4', projectId, null, `project ${projectId} ${state}: refunded ${refunded}, owed ${owed}`);
    }
  }

  /** I2 broken: more given back than was taken (`debited`: what was, as the message says it). */
  private refundedMoreThanDebited(subject: string, id: string, refunded: number, debited: string): void {
    this.report('I2', id, null, `${subject} was refunded ${refunded}, more than its ${debited}`);
  }

  private account(accountId: string): AccountAggregate {
    let account = this.accounts.get(accountId);
    if (!account) {
      account = { money: NO_MONEY, belowZeroReported: false };
      this.accounts.set(accountId, account);
    }
    return account;
  }

  private project(projectId: string): ProjectAggregate {
    let project = this.projects.get(projectId);
    if (!project) {
      project = {
        started: undefined,
        debits: [],
        refunded: 0,
        refundAccounts: new Set(),
        refundReasons: new Set(),
        terminal: undefined,
        laterEventReported: false,
      };
      this.projects.set(projectId, project);
    }
    return project;
  }

  private report(invariant: Invariant, id: string, position: number | null, message: string): void {
    this.violationCount++;
    if (this.violations.length < this.violationsMax) this.violations.push({ invariant, id, message, position });
  }
}

/** What a finished project must have been given back: all of a failure, the unused part of a completion. */
function owedRefund(cost: number, terminal: ProjectAggregate['terminal']): number | undefined {
  if (terminal?.type === 'ProjectFailed') return cost;
  if (terminal?.type === 'ProjectCompleted' && terminal.creditsUsed !== undefined) return cost - terminal.creditsUsed;
  return undefined;
}

function isPositiveInteger(value: unknown): value is number {
  return isNonNegativeInteger(value) && value > 0;
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isTerminalType(type: string): boolean {
  return type === 'ProjectCompleted' || type === 'ProjectFailed';
}
