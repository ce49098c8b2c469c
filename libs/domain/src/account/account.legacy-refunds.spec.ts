import type { AccountEvent } from './account.events.js';
import { evolveAccount, initialAccountState, type StoredAccountEvent } from './account.state.js';
import type { LedgerCommand } from '../ledger.js';
import type { ProjectEvent } from '../project/project.events.js';
import { accountStream, projectStream } from '../streams.js';
import { InMemoryLedger, checkInvariants, type Outcome } from '../testing/ledger-model.js';

/**
 * Refunds of projects started before lots (DESIGN.md "Credit lots"): they go back only to
 * the lots debits written before lots drew from (`legacyLent`), never to a lot newer
 * projects drew from, which would leave that lot owing its own project's refund.
 */

const ACCOUNT = 'acc-legacy';
const T0_MS = Date.UTC(2030, 0, 1);
const at = (seconds: number) => new Date(T0_MS + seconds * 1000);

/** Before lots: a grant of `granted` named after its event, and project X started for `cost` without lots. */
function ledgerBeforeLots(granted: number, cost: number): InMemoryLedger {
  const ledger = new InMemoryLedger();
  const account: StoredAccountEvent[] = [
    { id: 'evt-grant', type: 'CreditsGranted', data: { amount: granted, source: 'purchase' } },
    { id: 'evt-debit', type: 'Debited', data: { amount: cost, projectId: 'X', reason: 'project_started' } },
  ];
  const project: ProjectEvent[] = [
    { type: 'ProjectStarted', data: { accountId: ACCOUNT, cost, deadlineAt: at(86_400).toISOString() } },
  ];
  ledger.seed(accountStream(ACCOUNT), account, T0_MS - 1000);
  ledger.seed(projectStream('X'), project, T0_MS - 1000);
  return ledger;
}

function accepted(ledger: InMemoryLedger, command: LedgerCommand): Extract<Outcome, { accepted: true }> {
  const outcome = ledger.execute(command);
  if (!outcome.accepted) throw outcome.violation;
  return outcome;
}

const cancel = (projectId: string, seconds: number): LedgerCommand => ({
  type: 'FailProject',
  projectId,
  errorMessage: 'user cancelled',
  now: at(seconds),
});

const foldAccount = (ledger: InMemoryLedger) =>
  (ledger.eventsOf(accountStream(ACCOUNT)) as AccountEvent[]).reduce(evolveAccount, initialAccountState());

describe('the refund of a project started before lots', () => {
  it('goes back only to the lots debits written before lots drew, so a newer project refunded later folds', () => {
    const ledger = ledgerBeforeLots(100, 50);
    // After the upgrade: lot P is spent first, and project Y draws 30 from it.
    accepted(ledger, {
      type: 'GrantCredits',
      accountId: ACCOUNT,
      amount: 100,
      source: 'purchase',
      grantId: 'P',
      priority: 0,
      now: at(0),
    });
    const y = accepted(ledger, { type: 'StartProject', projectId: 'Y', accountId: ACCOUNT, cost: 30, now: at(1) });
    expect(y.decision.account).toEqual([
      {
        type: 'Debited',
        data: { amount: 30, projectId: 'Y', reason: 'project_started', lots: [{ grantId: 'P', amount: 30 }] },
      },
    ]);

    // X's 50 came from the old lot: all of it goes back there, none to P (Y's credits).
    const x = accepted(ledger, cancel('X', 2));
    expect(x.decision.account).toEqual([
      {
        type: 'Refunded',
        data: {
          amount: 50,
          projectId: 'X',
          reason: 'project_failed',
          lots: [{ grantId: 'evt-grant', amount: 50 }],
          legacy: true,
        },
      },
    ]);

    // Y's refund returns its 30 to P, and the account still folds afterwards.
    const yFailed = accepted(ledger, cancel('Y', 3));
    expect(yFailed.decision.account).toEqual([
      {
        type: 'Refunded',
        data: { amount: 30, projectId: 'Y', reason: 'project_failed', lots: [{ grantId: 'P', amount: 30 }] },
      },
    ]);
    const state = foldAccount(ledger);
    expect(state.balance).toBe(200);
    expect(
      state.lots.map(({ grantId, remaining, outstanding, legacyLent }) => ({
        grantId,
        remaining,
        outstanding,
        legacyLent,
      })),
    ).toEqual([
      { grantId: 'P', remaining: 100, outstanding: 0, legacyLent: undefined },
      { grantId: 'evt-grant', remaining: 100, outstanding: 0, legacyLent: undefined },
    ]);
    checkInvariants(ledger);
    // And the account takes commands again: a debit of everything.
    accepted(ledger, { type: 'DebitCredits', accountId: ACCOUNT, amount: 200, reason: 'fee', now: at(4) });
  });

  it('leaves the account readable: the reviewer’s steps, folded and decided on after both refunds', () => {
    const ledger = ledgerBeforeLots(100, 50);
    const grantP: LedgerCommand = {
      type: 'GrantCredits',
      accountId: ACCOUNT,
      amount: 100,
      source: 'purchase',
      grantId: 'P',
      priority: 0,
      now: at(0),
    };
    for (const command of [
      grantP,
      { type: 'StartProject', projectId: 'Y', accountId: ACCOUNT, cost: 30, now: at(1) } as LedgerCommand,
      cancel('X', 2),
      cancel('Y', 3),
    ]) {
      accepted(ledger, command);
    }
    expect(foldAccount(ledger).balance).toBe(200);
    expect(ledger.decide(grantP)).toMatchObject({ accepted: true, decision: { reply: { balance: 200 } } });
  });

  it('never lands an old project’s paid credits in a newer promotional lot, where they would expire', () => {
    const ledger = ledgerBeforeLots(100, 100);
    accepted(ledger, {
      type: 'GrantCredits',
      accountId: ACCOUNT,
      amount: 50,
      source: 'promo',
      grantId: 'promo',
      priority: 0,
      expiresAt: at(60).toISOString(),
      now: at(0),
    });
    accepted(ledger, { type: 'StartProject', projectId: 'Y', accountId: ACCOUNT, cost: 30, now: at(1) });
    // Past the promotional lot's expiry, X fails: its 100 paid credits come back to the old lot, all spendable.
    const x = accepted(ledger, cancel('X', 61));
    expect(x.decision.account).toEqual([
      {
        type: 'Refunded',
        data: {
          amount: 100,
          projectId: 'X',
          reason: 'project_failed',
          lots: [{ grantId: 'evt-grant', amount: 100 }],
          legacy: true,
        },
      },
    ]);
    expect(x.decision.reply).toMatchObject({ refunded: 100 });
    // Y's 30 were promotional: refunded past the expiry, they expire in the same append.
    const y = accepted(ledger, cancel('Y', 62));
    expect(y.decision.account).toEqual([
      {
        type: 'Refunded',
        data: { amount: 30, projectId: 'Y', reason: 'project_failed', lots: [{ grantId: 'promo', amount: 30 }] },
      },
      { type: 'CreditsExpired', data: { grantId: 'promo', amount: 30 } },
    ]);
    checkInvariants(ledger);
    const debit = ledger.decide({ type: 'DebitCredits', accountId: ACCOUNT, amount: 100, reason: 'fee', now: at(63) });
    expect(debit).toMatchObject({ accepted: true, decision: { reply: { balance: 0 } } });
  });

  it('returns by the spending order over what each old lot lent, when debits before lots drew from several', () => {
    const ledger = new InMemoryLedger();
    ledger.seed(
      accountStream(ACCOUNT),
      [
        { id: 'evt-1', type: 'CreditsGranted', data: { amount: 30, source: 'purchase' } },
        { id: 'evt-2', type: 'CreditsGranted', data: { amount: 30, source: 'purchase' } },
        { id: 'evt-3', type: 'Debited', data: { amount: 40, projectId: 'X', reason: 'project_started' } },
      ] as StoredAccountEvent[],
      T0_MS - 1000,
    );
    ledger.seed(
      projectStream('X'),
      [{ type: 'ProjectStarted', data: { accountId: ACCOUNT, cost: 40, deadlineAt: at(86_400).toISOString() } }],
      T0_MS - 1000,
    );
    // Y draws what is left of evt-2 (20) and 5 of a new lot.
    accepted(ledger, {
      type: 'GrantCredits',
      accountId: ACCOUNT,
      amount: 20,
      source: 'purchase',
      grantId: 'N',
      now: at(0),
    });
    const y = accepted(ledger, { type: 'StartProject', projectId: 'Y', accountId: ACCOUNT, cost: 25, now: at(1) });
    expect(y.decision.account[0]).toMatchObject({
      data: {
        lots: [
          { grantId: 'evt-2', amount: 20 },
          { grantId: 'N', amount: 5 },
        ],
      },
    });
    // X gets back its 30 from evt-1 and 10 from evt-2; Y's 20 of evt-2 stay Y's.
    expect(accepted(ledger, cancel('X', 2)).decision.account[0]).toMatchObject({
      data: {
        lots: [
          { grantId: 'evt-1', amount: 30 },
          { grantId: 'evt-2', amount: 10 },
        ],
        legacy: true,
      },
    });
    expect(accepted(ledger, cancel('Y', 3)).decision.account[0]).toMatchObject({
      data: {
        lots: [
          { grantId: 'N', amount: 5 },
          { grantId: 'evt-2', amount: 20 },
        ],
      },
    });
    expect(foldAccount(ledger).balance).toBe(80);
    checkInvariants(ledger);
  });
});

describe('the fold of a refund', () => {
  const before: StoredAccountEvent[] = [
    { id: 'evt-1', type: 'CreditsGranted', data: { amount: 100, source: 'purchase' } },
    { id: 'evt-2', type: 'Debited', data: { amount: 60, projectId: 'X', reason: 'project_started' } },
    {
      type: 'Debited',
      data: { amount: 30, projectId: 'Y', reason: 'project_started', lots: [{ grantId: 'evt-1', amount: 30 }] },
    },
  ];

  it('keeps apart what debits before lots and debits naming their lots hold of the same lot', () => {
    const state = before.reduce(evolveAccount, initialAccountState());
    expect(state.lots[0]).toMatchObject({ remaining: 10, outstanding: 90, legacyLent: 60 });
    const y: StoredAccountEvent = {
      type: 'Refunded',
      data: { amount: 30, projectId: 'Y', reason: 'project_failed', lots: [{ grantId: 'evt-1', amount: 30 }] },
    };
    expect(evolveAccount(state, y).lots[0]).toMatchObject({ remaining: 40, outstanding: 60, legacyLent: 60 });
    const x: StoredAccountEvent = {
      type: 'Refunded',
      data: {
        amount: 60,
        projectId: 'X',
        reason: 'project_failed',
        lots: [{ grantId: 'evt-1', amount: 60 }],
        legacy: true,
      },
    };
    expect(evolveAccount(state, x).lots[0]).toMatchObject({ remaining: 70, outstanding: 30 });
    expect(evolveAccount(state, x).lots[0]!.legacyLent).toBeUndefined();
  });

  it('refuses a legacy refund to a lot no debit before lots drew from', () => {
    const state = [
      ...before,
      { type: 'CreditsGranted', data: { amount: 10, source: 'purchase', grantId: 'N', category: 'paid', priority: 0 } },
      {
        type: 'Debited',
        data: { amount: 10, projectId: 'Z', reason: 'project_started', lots: [{ grantId: 'N', amount: 10 }] },
      },
    ].reduce((s, e) => evolveAccount(s, e as StoredAccountEvent), initialAccountState());
    const wrong: StoredAccountEvent = {
      type: 'Refunded',
      data: {
        amount: 10,
        projectId: 'X',
        reason: 'project_failed',
        lots: [{ grantId: 'N', amount: 10 }],
        legacy: true,
      },
    };
    expect(() => evolveAccount(state, wrong)).toThrow(/written before lots/);
  });

  it('folds an unmarked refund the lots decider wrote before `legacy` existed: legacyLent shrinks to what is drawn', () => {
    // The pre-fix decider returned X's 60 here without saying it was X's: the stream still folds.
    const unmarked: StoredAccountEvent = {
      type: 'Refunded',
      data: { amount: 60, projectId: 'X', reason: 'project_failed', lots: [{ grantId: 'evt-1', amount: 60 }] },
    };
    const state = [...before, unmarked].reduce(evolveAccount, initialAccountState());
    expect(state.lots[0]).toMatchObject({ remaining: 70, outstanding: 30, legacyLent: 30 });
  });
});
