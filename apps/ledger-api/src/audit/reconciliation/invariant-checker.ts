/**
 * Checks the ledger's invariants I1–I4 (DESIGN.md) from the events alone, in one pass
 * over the global log: feed every event in position order, then `finish()`. Pure: no
 * I/O, no clock. Memory is one small aggregate per account and per project, never the
 * events themselves, so a log of any length can be checked.
 *
 * It reports, it does not assert: the events are what was stored, and a broken
 * invariant is what an auditor wants to read about, not a crash.
 */

export type Invariant = 'I1' | 'I2' | 'I3' | 'I4';

export interface Violation {
  invariant: Invariant;
  /** The account's or the project's id (the message says which). */
  id: string;
  message: string;
  /** Where it was seen, or null for what only the whole log shows (a missing refund). */
  position: number | null;
}

/** What the checker reads of an event: a stored event fits. */
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

interface AccountAggregate {
  balance: number;
  granted: number;
  debited: number;
  refunded: number;
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

const ACCOUNT_PREFIX = 'account-';
const PROJECT_PREFIX = 'project-';
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
    if (event.streamName.startsWith(ACCOUNT_PREFIX)) {
      this.feedAccount(event.streamName.slice(ACCOUNT_PREFIX.length), event);
    } else if (event.streamName.startsWith(PROJECT_PREFIX)) {
      this.feedProject(event.streamName.slice(PROJECT_PREFIX.length), event);
    }
    // Other streams (idempotency records) move no money and have no lifecycle.
  }

  /** The checks that need the whole log: every debit matched, every refund owed paid. */
  finish(): InvariantReport {
    for (const [accountId, account] of this.accounts) {
      if (account.refunded > account.debited) {
        this.report(
          'I2',
          accountId,
          null,
          `account ${accountId} was refunded ${account.refunded}, more than its debits ${account.debited}`,
        );
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

  private feedAccount(accountId: string, event: CheckedEvent): void {
    if (event.type !== 'CreditsGranted' && event.type !== 'Debited' && event.type !== 'Refunded') return;
    const account = this.account(accountId);
    const amount = event.data.amount;
    const position = Number(event.position);
    if (!isPositiveInteger(amount)) {
      this.report(
        'I1',
        accountId,
        position,
        `account ${accountId}: ${event.type} with amount ${String(amount)}, not a positive integer`,
      );
      return;
    }
    const projectId = typeof event.data.projectId === 'string' ? event.data.projectId : undefined;
    if (event.type === 'CreditsGranted') {
      account.balance += amount;
      account.granted += amount;
    } else if (event.type === 'Debited') {
      account.balance -= amount;
      account.debited += amount;
      if (projectId !== undefined) this.debitProject(projectId, accountId, amount, position);
    } else {
      account.balance += amount;
      account.refunded += amount;
      if (projectId !== undefined) this.refundProject(projectId, accountId, amount, event.data.reason, position);
    }
    if (account.balance < 0 && !account.belowZeroReported) {
      account.belowZeroReported = true;
      this.report('I1', accountId, position, `account ${accountId}: balance fell to ${account.balance}`);
    }
  }

  private debitProject(projectId: string, accountId: string, amount: number, position: number): void {
    const project = this.project(projectId);
    if (project.debits.length === 1) {
      this.report('I4', projectId, position, `project ${projectId} was debited more than once`);
    }
    if (project.debits.length < DEBITS_KEPT_MAX) project.debits.push({ accountId, amount });
  }

  private refundProject(projectId: string, accountId: string, amount: number, reason: unknown, position: number): void {
    const project = this.project(projectId);
    project.refunded += amount;
    project.refundAccounts.add(accountId);
    const cause = typeof reason === 'string' ? reason : '';
    if (project.refundReasons.has(cause)) {
      this.report('I2', projectId, position, `project ${projectId} was refunded twice for the cause '${cause}'`);
    }
    project.refundReasons.add(cause);
  }

  private feedProject(projectId: string, event: CheckedEvent): void {
    const project = this.project(projectId);
    const position = Number(event.position);
    if (event.type === 'ProjectAssetsAttached') {
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
        const what = isTerminalType(event.type) ? 'a second terminal event' : 'an event';
        this.report(
          'I3',
          projectId,
          position,
          `project ${projectId}: ${what} (${event.type}) after ${project.terminal.type}`,
        );
      }
      return;
    }
    if (event.type === 'ProjectStarted') {
      if (project.started) {
        this.report('I3', projectId, position, `project ${projectId} was started twice`);
        return;
      }
      const { accountId, cost } = event.data;
      project.started = { accountId: String(accountId), cost: isPositiveInteger(cost) ? cost : Number.NaN };
      return;
    }
    if (!project.started) {
      this.report('I3', projectId, position, `project ${projectId}: ${event.type} before ProjectStarted`);
      return;
    }
    if (event.type === 'ProjectCompleted') {
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
          `project ${projectId} used ${String(creditsUsed)} credits of its cost ${project.started.cost}`,
        );
      }
      project.terminal = { type: 'ProjectCompleted', creditsUsed: valid ? creditsUsed : undefined };
    } else if (event.type === 'ProjectFailed') {
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
      this.report(
        'I2',
        projectId,
        null,
        `project ${projectId} was refunded ${refunded}, more than its debit ${debited}`,
      );
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

  private account(accountId: string): AccountAggregate {
    let account = this.accounts.get(accountId);
    if (!account) {
      account = { balance: 0, granted: 0, debited: 0, refunded: 0, belowZeroReported: false };
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
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function isTerminalType(type: string): boolean {
  return type === 'ProjectCompleted' || type === 'ProjectFailed';
}
