import assert from 'node:assert';
import { checkLots } from './lots-model.js';
import type { AccountEvent } from '../account/account.events.js';
import { evolveAccount, initialAccountState } from '../account/account.state.js';
import { applyMoney, isAccountEventType, NO_MONEY } from '../account/account.money.js';
import {
  decideLedger,
  type LedgerCommand,
  type LedgerDecision,
  type LedgerEvent,
  type LedgerState,
} from '../ledger.js';
import type { ProjectEvent } from '../project/project.events.js';
import { evolveProject, initialProjectState, type ProjectState } from '../project/project.state.js';
import { RuleViolation } from '../rule-violation.js';
import { accountIdOf, accountStream, projectIdOf, projectStream } from '../streams.js';

export type Outcome =
  Readonly<{ accepted: true; decision: LedgerDecision }> | Readonly<{ accepted: false; violation: RuleViolation }>;

/**
 * An in-memory event log per stream, driven the way a handler drives the store: load the
 * streams a command reads, decide, append both streams' events together or nothing.
 */
export class InMemoryLedger {
  private readonly streams = new Map<string, LedgerEvent[]>();
  /** When each event was appended (its command's `now`), by stream, parallel to the events. */
  private readonly times = new Map<string, number[]>();

  eventsOf(streamName: string): readonly LedgerEvent[] {
    return this.streams.get(streamName) ?? [];
  }

  timesOf(streamName: string): readonly number[] {
    return this.times.get(streamName) ?? [];
  }

  streamNames(): string[] {
    return [...this.streams.keys()];
  }

  project(projectId: string): ProjectState {
    return (this.eventsOf(projectStream(projectId)) as ProjectEvent[]).reduce(evolveProject, initialProjectState());
  }

  /** Decides without appending: what the command would do now. Anything but a RuleViolation is a bug and escapes. */
  decide(command: LedgerCommand): Outcome {
    try {
      return { accepted: true, decision: decideLedger(this.stateFor(command), command) };
    } catch (error) {
      if (error instanceof RuleViolation) return { accepted: false, violation: error };
      throw error;
    }
  }

  execute(command: LedgerCommand): Outcome {
    const outcome = this.decide(command);
    if (outcome.accepted) {
      const { decision } = outcome;
      const atMs = command.now.getTime();
      this.append(accountStream(decision.accountId), decision.account, atMs);
      if ('projectId' in command) this.append(projectStream(command.projectId), decision.project, atMs);
      else assert.strictEqual(decision.project.length, 0, 'an account command decided project events');
    }
    return outcome;
  }

  /**
   * Events as an earlier version of the service wrote them (before lots: grants without
   * grantId, named after their event id; debits and refunds without lots; projects started
   * without lots), appended as they are at `atMs`, with no decision.
   */
  seed(streamName: string, events: readonly (LedgerEvent & { id?: string })[], atMs: number): void {
    this.append(streamName, events, atMs);
  }

  private stateFor(command: LedgerCommand): LedgerState {
    const project = 'projectId' in command ? this.project(command.projectId) : initialProjectState();
    const accountId = 'accountId' in command ? command.accountId : project.status === 'none' ? null : project.accountId;
    const accountEvents = accountId === null ? [] : (this.eventsOf(accountStream(accountId)) as AccountEvent[]);
    return { account: accountEvents.reduce(evolveAccount, initialAccountState()), project };
  }

  private append(streamName: string, events: readonly LedgerEvent[], atMs: number): void {
    if (events.length === 0) return;
    this.streams.set(streamName, [...this.eventsOf(streamName), ...events]);
    this.times.set(streamName, [...this.timesOf(streamName), ...events.map(() => atMs)]);
  }
}

/** I1 from the raw log: Σ granted − Σ debited + Σ refunded, never below zero at any point. */
export function balanceFromLog(events: readonly LedgerEvent[]): number {
  let money = NO_MONEY;
  for (const event of events) {
    if (!isAccountEventType(event.type)) continue;
    money = applyMoney(money, event as AccountEvent);
    assert(money.balance >= 0, `I1: balance fell to ${money.balance}`);
  }
  return money.balance;
}

/**
 * Checks I1–I3 (and I4's money half) from the log alone, without the deciders' state:
 * per account the balance; per project one debit matching its cost, refunds that never
 * exceed it, at most one per cause, and exactly what its terminal event implies; one
 * terminal event at most, and nothing after it.
 */
type ProjectMoney = { accountId: string; debits: number[]; refunds: Map<string, number[]> };

export function checkInvariants(ledger: InMemoryLedger): void {
  const money = new Map<string, ProjectMoney>();
  for (const streamName of ledger.streamNames()) {
    const accountId = accountIdOf(streamName);
    if (accountId === undefined) continue;
    const events = ledger.eventsOf(streamName) as AccountEvent[];
    const balance = balanceFromLog(events);
    checkLots(events, ledger.timesOf(streamName), balance);
    assert.strictEqual(
      events.reduce(evolveAccount, initialAccountState()).balance,
      balance,
      'I1: fold disagrees with log',
    );
    for (const event of events) {
      if (event.type !== 'Debited' && event.type !== 'Refunded') continue;
      if (event.data.projectId === undefined) continue;
      const entry: ProjectMoney = money.get(event.data.projectId) ?? { accountId, debits: [], refunds: new Map() };
      assert.strictEqual(entry.accountId, accountId, `project ${event.data.projectId} touched two accounts`);
      if (event.type === 'Debited') entry.debits.push(event.data.amount);
      else entry.refunds.set(event.data.reason, [...(entry.refunds.get(event.data.reason) ?? []), event.data.amount]);
      money.set(event.data.projectId, entry);
    }
  }
  for (const streamName of ledger.streamNames()) {
    const projectId = projectIdOf(streamName);
    if (projectId === undefined) continue;
    checkProject(projectId, ledger.eventsOf(streamName) as ProjectEvent[], money.get(projectId));
    money.delete(projectId);
  }
  assert.deepStrictEqual([...money.keys()], [], 'I4: money moved for a project that never started');
}

function checkProject(projectId: string, events: readonly ProjectEvent[], money: ProjectMoney | undefined): void {
  const [first] = events;
  assert(first?.type === 'ProjectStarted', `I3: ${projectId} does not begin with ProjectStarted`);
  const terminalAt = events.findIndex((e) => e.type === 'ProjectCompleted' || e.type === 'ProjectFailed');
  // Attached assets annotate a completed project's result: the only events allowed after its end.
  const after = terminalAt === -1 ? [] : events.slice(terminalAt + 1);
  assert(
    after.every((e) => e.type === 'ProjectAssetsAttached' && events[terminalAt]?.type === 'ProjectCompleted'),
    `I3: ${projectId} has events after its end`,
  );
  assert(
    events.every((e, i) => e.type !== 'ProjectAssetsAttached' || (terminalAt !== -1 && i > terminalAt)),
    `I3: ${projectId} got assets before it completed`,
  );
  assert.strictEqual(events.filter((e) => e.type === 'ProjectStarted').length, 1, `I3: ${projectId} started twice`);
  assert(
    money !== undefined && money.accountId === first.data.accountId,
    `I4: ${projectId} was not paid by its account`,
  );
  assert.deepStrictEqual(money.debits, [first.data.cost], `I4: ${projectId} debits do not match its cost`);
  const refunds = [...money.refunds.values()];
  assert(
    refunds.every((amounts) => amounts.length === 1),
    `I2: ${projectId} refunded twice for one cause`,
  );
  const refunded = refunds.flat().reduce((sum, amount) => sum + amount, 0);
  assert(refunded <= first.data.cost, `I2: ${projectId} refunded ${refunded} of ${first.data.cost}`);
  const terminal = terminalAt === -1 ? undefined : events[terminalAt];
  const owed =
    terminal?.type === 'ProjectFailed'
      ? first.data.cost
      : terminal?.type === 'ProjectCompleted'
        ? first.data.cost - terminal.data.creditsUsed
        : 0;
  assert.strictEqual(refunded, owed, `I4: ${projectId} refunded ${refunded}, owed ${owed}`);
}
