import fc from 'fast-check';
import {
  accountStream,
  decideLedger,
  evolveAccount,
  evolveProject,
  initialAccountState,
  initialProjectState,
  isRuleViolation,
  projectStream,
  type AccountState,
  type LedgerCommand,
  type ProjectState,
} from '@ledger/domain';
import { InvariantChecker, type CheckedEvent, type Invariant, type InvariantReport } from './invariant-checker.js';

/** A log written by hand: each event takes the next position. */
function log(...events: [streamName: string, type: string, data: Record<string, unknown>][]): CheckedEvent[] {
  return events.map(([streamName, type, data], i) => ({ streamName, type, data, position: BigInt(i + 1) }));
}

function check(events: readonly CheckedEvent[], violationsMax?: number): InvariantReport {
  const checker = new InvariantChecker(violationsMax);
  events.forEach((event) => checker.feed(event));
  return checker.finish();
}

const kinds = (report: InvariantReport) => report.violations.map((v) => [v.invariant, v.id]);

type Entry = [string, string, Record<string, unknown>];
const grant = (account: string, amount: number): Entry => [
  `account-${account}`,
  'CreditsGranted',
  { amount, source: 'purchase' },
];
const debit = (account: string, amount: number, projectId?: string): Entry => [
  `account-${account}`,
  'Debited',
  projectId === undefined ? { amount, reason: 'fee' } : { amount, projectId, reason: 'project_started' },
];
const refund = (account: string, amount: number, projectId: string, reason = 'project_failed'): Entry => [
  `account-${account}`,
  'Refunded',
  { amount, projectId, reason },
];
const start = (projectId: string, account: string, cost: number): Entry => [
  `project-${projectId}`,
  'ProjectStarted',
  { accountId: account, cost, deadlineAt: '2030-01-01T01:00:00.000Z' },
];
const claim = (projectId: string, attempt = 1): Entry => [
  `project-${projectId}`,
  'ProjectClaimed',
  { attempt, workerId: 'w1', leaseExpiresAt: '2030-01-01T00:01:00.000Z' },
];
const complete = (projectId: string, creditsUsed: number, attempt = 1): Entry => [
  `project-${projectId}`,
  'ProjectCompleted',
  { attempt, creditsUsed },
];
const fail = (projectId: string): Entry => [
  `project-${projectId}`,
  'ProjectFailed',
  { attempt: 1, code: 'failed', errorMessage: 'boom' },
];
const attach = (projectId: string): Entry => [
  `project-${projectId}`,
  'ProjectAssetsAttached',
  { assets: { assetUrl: 'https://cdn.example/a.mp4' } },
];
/** A start as the executor appends it: the account debited the cost, the project started. */
const paid = (account: string, projectId: string, cost: number): Entry[] => [
  debit(account, cost, projectId),
  start(projectId, account, cost),
];
/** Account a funded with 100, then project p started at `cost`. */
const paidStart = (cost: number): Entry[] => [grant('a', 100), ...paid('a', 'p', cost)];
const record = (): Entry => ['idem-0123', 'CommandRecorded', { status: 201, body: '{}' }];

/** Each step as the command executor appends it: account events, project events, the record. */
const cleanLog = log(
  grant('a', 500),
  record(),
  grant('b', 100),
  record(),
  debit('a', 20),
  record(),
  // Completed with partial use: 100 cost, 70 used, 30 back.
  ...paid('a', 'p1', 100),
  record(),
  claim('p1'),
  record(),
  refund('a', 30, 'p1', 'partial_use'),
  complete('p1', 70),
  record(),
  // Completed in full: no refund.
  ...paid('b', 'p2', 100),
  record(),
  claim('p2'),
  complete('p2', 100),
  // Its result came later, by a provider's webhook, twice.
  attach('p2'),
  record(),
  attach('p2'),
  // Failed by its worker, then cancelled while pending: all of the cost back, once.
  ...paid('a', 'p3', 50),
  claim('p3'),
  refund('a', 50, 'p3'),
  fail('p3'),
  ...paid('a', 'p4', 10),
  refund('a', 10, 'p4'),
  ['project-p4', 'ProjectFailed', { code: 'cancelled', errorMessage: 'no longer needed' }],
  // Still running: paid, nothing back yet.
  grant('b', 5),
  ...paid('a', 'p5', 40),
  claim('p5'),
  ['project-p5', 'LeaseExtended', { attempt: 1, leaseExpiresAt: '2030-01-01T00:02:00.000Z' }],
  ['weird-stream', 'SomethingElse', { amount: -1 }],
);

describe('InvariantChecker', () => {
  it('finds nothing wrong in a clean log of every kind of step', () => {
    const report = check(cleanLog);
    expect(report).toEqual({ checkedAccounts: 2, checkedProjects: 5, violations: [], violationCount: 0 });
  });

  it('finds nothing wrong in an empty log', () => {
    expect(check([])).toEqual({ checkedAccounts: 0, checkedProjects: 0, violations: [], violationCount: 0 });
  });

  describe('I1: the balance never goes below zero, amounts are positive integers', () => {
    it('reports a debit past the balance once, at the position it happened', () => {
      const report = check(log(grant('a', 10), debit('a', 11), debit('a', 5), grant('a', 100)));
      expect(report.violations).toEqual([
        { invariant: 'I1', id: 'a', message: 'account a: balance fell to -1', position: 2 },
      ]);
    });

    it('accepts a balance of exactly zero', () => {
      expect(check(log(grant('a', 10), debit('a', 10))).violations).toEqual([]);
    });

    it.each([0, -5, 1.5, '10', null])('reports an amount of %p', (amount) => {
      const report = check(log(grant('a', 10), ['account-a', 'Debited', { amount }]));
      expect(kinds(report)).toEqual([['I1', 'a']]);
    });

    it('accepts a void of 0 (the credits of the lot all spent or held by projects: the domain still closes it)', () => {
      const held: Entry = ['account-a', 'Debited', { amount: 10, reason: 'fee', lots: [{ grantId: 'g', amount: 10 }] }];
      const voided: Entry = ['account-a', 'GrantVoided', { grantId: 'g', amount: 0, reason: 'fraud' }];
      const granted: Entry = ['account-a', 'CreditsGranted', { amount: 10, source: 'promo', grantId: 'g' }];
      expect(check(log(granted, held, voided)).violations).toEqual([]);
    });

    it.each([-1, 1.5, '0', null])('reports a void of %p', (amount) => {
      const report = check(log(grant('a', 10), ['account-a', 'GrantVoided', { grantId: 'g', amount, reason: 'x' }]));
      expect(kinds(report)).toEqual([['I1', 'a']]);
    });
  });

  describe('I2: refunds never exceed the debit, at most one per cause, only after the end', () => {
    it('reports a second refund for the same cause', () => {
      const report = check(log(...paidStart(50), refund('a', 50, 'p'), fail('p'), refund('a', 50, 'p')));
      expect(report.violations).toContainEqual(expect.objectContaining({ invariant: 'I2', id: 'p', position: 6 }));
      expect(report.violations.map((v) => v.message)).toContain(
        "project p was refunded twice for the cause 'project_failed'",
      );
      expect(report.violations.map((v) => v.message)).toContain('project p was refunded 100, more than its debit 50');
    });

    it('reports refunds for two causes that add up past the cost', () => {
      const report = check(
        log(
          ...paidStart(50),
          claim('p'),
          refund('a', 30, 'p', 'partial_use'),
          complete('p', 20),
          refund('a', 30, 'p', 'goodwill'),
        ),
      );
      expect(kinds(report)).toEqual([
        ['I2', 'a'],
        ['I2', 'p'],
        ['I4', 'p'],
      ]);
      expect(report.violations[1]!.message).toBe('project p was refunded 60, more than its debit 50');
    });

    it('reports a refund to an account other than the payer', () => {
      const report = check(
        log(grant('a', 100), grant('b', 1), debit('a', 50, 'p'), start('p', 'a', 50), refund('b', 50, 'p'), fail('p')),
      );
      expect(report.violations.map((v) => v.message)).toEqual([
        'account b was refunded 50, more than its debits 0',
        'project p was refunded to an account other than its payer a',
      ]);
    });

    it('reports a refund while the project is still running', () => {
      const report = check(log(...paidStart(50), claim('p'), refund('a', 50, 'p')));
      expect(report.violations.map((v) => v.message)).toEqual(['project p was refunded 50 before it ended']);
    });

    it('reports a refund of a project that never existed', () => {
      const report = check(log(grant('a', 100), debit('a', 60), refund('a', 50, 'ghost')));
      expect(report.violations.map((v) => v.message)).toEqual(['project ghost was refunded 50 but never started']);
    });

    it('reports more credits used than the cost', () => {
      const report = check(log(...paidStart(50), claim('p'), complete('p', 51)));
      expect(report.violations.map((v) => v.message)).toEqual(['project p used 51 credits of its cost 50']);
    });
  });

  describe('I3: one terminal event at most, nothing after it', () => {
    const claimed = [...paidStart(50), claim('p')];

    it('reports a completion after a failure (the stalled worker) once, where it happened', () => {
      const report = check(log(...claimed, refund('a', 50, 'p'), fail('p'), complete('p', 50), claim('p', 2)));
      expect(report.violations).toEqual([
        {
          invariant: 'I3',
          id: 'p',
          message: 'project p: a second terminal event (ProjectCompleted) after ProjectFailed',
          position: 7,
        },
      ]);
    });

    it('reports any event after the end', () => {
      const report = check(log(...claimed, complete('p', 50), claim('p', 2)));
      expect(report.violations.map((v) => v.message)).toEqual([
        'project p: an event (ProjectClaimed) after ProjectCompleted',
      ]);
    });

    it('accepts assets attached after a completion, and reports them anywhere else', () => {
      expect(check(log(...claimed, complete('p', 50), attach('p'), attach('p'))).violations).toEqual([]);
      const report = check(log(...claimed, attach('p'), refund('a', 50, 'p'), fail('p'), attach('p')));
      expect(report.violations.map((v) => [v.message, v.position])).toEqual([
        ['project p: ProjectAssetsAttached before it completed', 5],
        ['project p: ProjectAssetsAttached before it completed', 8],
      ]);
    });

    it('reports a second start and an event before the start', () => {
      const report = check(log(claim('q'), ...claimed, start('p', 'a', 50)));
      expect(report.violations.map((v) => v.message)).toEqual([
        'project q: ProjectClaimed before ProjectStarted',
        'project p was started twice',
      ]);
    });
  });

  describe('I4: every project debit has its project, every ended project its refund', () => {
    it('reports a debit whose project never started (the lost credits)', () => {
      const report = check(log(grant('a', 100), debit('a', 30, 'p')));
      expect(report.violations).toEqual([
        { invariant: 'I4', id: 'p', message: 'project p was debited 30 but never started', position: null },
      ]);
    });

    it('reports a project started without its debit', () => {
      expect(check(log(start('p', 'a', 30))).violations.map((v) => v.message)).toEqual([
        'project p was started without its debit',
      ]);
    });

    it('reports a debit of another amount or account than the start says', () => {
      const report = check(
        log(
          grant('a', 100),
          grant('b', 100),
          debit('a', 29, 'p'),
          start('p', 'a', 30),
          debit('b', 30, 'q'),
          start('q', 'a', 30),
        ),
      );
      expect(report.violations.map((v) => v.message)).toEqual([
        'project p costs 30 to account a, but account a was debited 29',
        'project q costs 30 to account a, but account b was debited 30',
      ]);
    });

    it('reports a project debited twice', () => {
      const report = check(log(...paidStart(30), debit('a', 30, 'p')));
      expect(report.violations.map((v) => v.message)).toEqual(['project p was debited more than once']);
    });

    it('reports a failed project without its refund', () => {
      const report = check(log(...paidStart(30), fail('p')));
      expect(report.violations).toEqual([
        { invariant: 'I4', id: 'p', message: 'project p failed: refunded 0, owed 30', position: null },
      ]);
    });

    it('reports a partial completion refunded the wrong amount', () => {
      const report = check(log(...paidStart(30), claim('p'), refund('a', 5, 'p', 'partial_use'), complete('p', 20)));
      expect(report.violations.map((v) => v.message)).toEqual(['project p completed: refunded 5, owed 10']);
    });

    it('reports a partial completion without any refund', () => {
      const report = check(log(...paidStart(30), claim('p'), complete('p', 20)));
      expect(kinds(report)).toEqual([['I4', 'p']]);
    });
  });

  it('keeps the first violations only, and counts them all', () => {
    const events = log(...Array.from({ length: 20 }, (_, i) => debit(`a${i}`, 1)));
    const report = check(events, 5);
    expect(report.violations).toHaveLength(5);
    expect(report.violationCount).toBe(20);
  });
});

/**
 * Logs written by the domain's own deciders under random commands (several accounts and
 * projects interleaved, as the command executor appends them) are clean; and breaking
 * one by dropping or repeating a money or terminal event is always caught.
 */
describe('InvariantChecker on generated logs', () => {
  const ACCOUNTS = ['a1', 'a2', 'a3'];
  const PROJECTS = ['p1', 'p2', 'p3', 'p4'];
  const T0_MS = Date.UTC(2030, 0, 1);

  type Step =
    | { kind: 'grant'; account: number; amount: number }
    | { kind: 'debit'; account: number; amount: number }
    | { kind: 'start'; project: number; account: number; cost: number }
    | { kind: 'claim'; project: number }
    | { kind: 'expire'; project: number }
    | { kind: 'complete'; project: number; used: number }
    | { kind: 'fail'; project: number; owner: boolean }
    | { kind: 'report'; project: number; succeeded: boolean }
    | { kind: 'attach'; project: number }
    | { kind: 'tick'; seconds: number };

  const account = fc.nat(ACCOUNTS.length - 1);
  const project = fc.nat(PROJECTS.length - 1);
  const step: fc.Arbitrary<Step> = fc.oneof(
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constantFrom('grant' as const, 'debit' as const),
        account,
        amount: fc.integer({ min: 1, max: 300 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('start' as const),
        project,
        account,
        cost: fc.integer({ min: 1, max: 200 }),
      }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('claim' as const, 'expire' as const), project }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('complete' as const),
        project,
        used: fc.double({ min: 0, max: 1, noNaN: true }),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('fail' as const), project, owner: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('report' as const), project, succeeded: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('attach' as const), project }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 4000 }) }),
    },
  );

  let grantsMade = 0;
  function commandOf(
    s: Exclude<Step, { kind: 'tick' }>,
    projects: Map<string, ProjectState>,
    now: Date,
  ): LedgerCommand {
    if (s.kind === 'grant' || s.kind === 'debit') {
      const accountId = ACCOUNTS[s.account]!;
      return s.kind === 'grant'
        ? { type: 'GrantCredits', accountId, amount: s.amount, source: 'promo', grantId: `g${grantsMade++}`, now }
        : { type: 'DebitCredits', accountId, amount: s.amount, reason: 'fee', now };
    }
    const projectId = PROJECTS[s.project]!;
    const state = projects.get(projectId) ?? initialProjectState();
    const { attempt, cost } = state.status === 'none' ? { attempt: 1, cost: 1 } : state;
    switch (s.kind) {
      case 'start':
        return { type: 'StartProject', projectId, accountId: ACCOUNTS[s.account]!, cost: s.cost, now };
      case 'claim':
        return { type: 'ClaimProject', projectId, workerId: 'w1', leaseSeconds: 60, now };
      case 'expire':
        return { type: 'ExpireProject', projectId, attemptsMax: 2, now };
      case 'complete':
        return { type: 'CompleteProject', projectId, attempt, creditsUsed: Math.floor(cost * s.used), now };
      case 'fail':
        return { type: 'FailProject', projectId, attempt: s.owner ? undefined : attempt, errorMessage: 'failed', now };
      case 'report': {
        const outcome = s.succeeded ? 'succeeded' : 'failed';
        return {
          type: 'ApplyProviderReport',
          projectId,
          outcome,
          assets: { previewUrl: 'https://cdn.example/p' },
          now,
        };
      }
      case 'attach':
        return { type: 'AttachAssets', projectId, assets: { assetUrl: `https://cdn.example/${now.getTime()}` }, now };
    }
  }

  function logOf(steps: readonly Step[]): CheckedEvent[] {
    const accounts = new Map<string, AccountState>();
    const projects = new Map<string, ProjectState>();
    const events: CheckedEvent[] = [];
    let nowMs = T0_MS;
    // Funded accounts, so that projects get going.
    const funded: Step[] = ACCOUNTS.map((_, i) => ({ kind: 'grant', account: i, amount: 300 }));
    const append = (streamName: string, type: string, data: object) =>
      events.push({ streamName, type, data: data as Record<string, unknown>, position: BigInt(events.length + 1) });
    for (const s of [...funded, ...steps]) {
      if (s.kind === 'tick') {
        nowMs += s.seconds * 1000;
        continue;
      }
      const command = commandOf(s, projects, new Date(nowMs));
      const projectId = 'projectId' in command ? command.projectId : undefined;
      const project = (projectId && projects.get(projectId)) || initialProjectState();
      const accountId =
        'accountId' in command ? command.accountId : project.status === 'none' ? undefined : project.accountId;
      const accountState = (accountId && accounts.get(accountId)) || initialAccountState();
      let decision;
      try {
        decision = decideLedger({ account: accountState, project }, command);
      } catch (error) {
        if (isRuleViolation(error)) continue;
        throw error;
      }
      for (const event of decision.account) {
        append(accountStream(decision.accountId), event.type, event.data);
        accounts.set(
          decision.accountId,
          evolveAccount(accounts.get(decision.accountId) ?? initialAccountState(), event),
        );
      }
      for (const event of decision.project) {
        append(projectStream(projectId!), event.type, event.data);
        projects.set(projectId!, evolveProject(projects.get(projectId!) ?? initialProjectState(), event));
      }
      if (decision.account.length + decision.project.length > 0) append(`idem-${events.length}`, 'CommandRecorded', {});
    }
    return events;
  }

  const steps = fc.array(step, { minLength: 10, maxLength: 60, size: 'max' });

  it('finds every log the deciders write clean', () => {
    let refunds = 0;
    fc.assert(
      fc.property(steps, (s) => {
        const events = logOf(s);
        refunds += events.filter((e) => e.type === 'Refunded').length;
        expect(check(events).violations).toEqual([]);
      }),
      { numRuns: 500 },
    );
    // The property says little unless the logs reach the refunds.
    expect(refunds).toBeGreaterThan(300);
  });

  /** Events whose loss or repetition always breaks an invariant. */
  const vital = (e: CheckedEvent) =>
    (e.type === 'Debited' && e.data.projectId !== undefined) ||
    e.type === 'Refunded' ||
    e.type === 'ProjectStarted' ||
    e.type === 'ProjectFailed';

  it.each<[string, (events: CheckedEvent[], at: number) => CheckedEvent[]]>([
    ['dropping', (events, at) => events.filter((_, i) => i !== at)],
    ['repeating', (events, at) => [...events, { ...events[at]!, position: BigInt(events.length + 1) }]],
  ])('catches %s any project money event, start or failure', (_, corrupt) => {
    fc.assert(
      fc.property(steps, fc.nat(), (s, pick) => {
        const events = logOf(s);
        const candidates = events.flatMap((e, i) => (vital(e) ? [i] : []));
        fc.pre(candidates.length > 0);
        const report = check(corrupt(events, candidates[pick % candidates.length]!));
        // A balance may fall below zero too (I1), but the project's own invariants always break.
        const invariants = new Set<Invariant>(report.violations.map((v) => v.invariant));
        expect(['I2', 'I3', 'I4'].some((i) => invariants.has(i as Invariant))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
