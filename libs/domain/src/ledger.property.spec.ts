import assert from 'node:assert';
import fc from 'fast-check';
// Through the public entry, so the suite also proves what other projects import resolves.
import {
  AMOUNT_MAX,
  accountStream,
  projectStream,
  type AccountEvent,
  type LedgerCommand,
  type LedgerEvent,
} from './index.js';
import { InMemoryLedger, balanceFromLog, checkInvariants, type Outcome } from './testing/ledger-model.js';
import { spendableFromLog } from './testing/lots-model.js';

/**
 * Random command sequences over three accounts and three projects, often after a random
 * history written before lots (grants without grantId, debits and refunds without lots,
 * projects started without lots, some running, some ended), with workers racing for
 * leases and a clock that jumps past them and past lots' expiries; grants of every category,
 * priority and expiry, voids and expiry sweeps. After every step the invariants are checked from
 * the log itself (testing/ledger-model.ts), and every accepted project command is replayed
 * at once to check I5: a repeat appends nothing and answers the same.
 */

const ACCOUNTS = ['a1', 'a2', 'a3'];
const PROJECTS = ['p1', 'p2', 'p3'];
const WORKERS = ['w1', 'w2', 'w3'];
const T0_MS = Date.UTC(2030, 0, 1);

type AttemptPick = -1 | 0 | 1;
type CreditsPick = 'default' | 'zero' | 'half' | 'all' | 'over';
type LotPick = {
  category: 'paid' | 'promotional' | undefined;
  priority: number | undefined;
  expiresIn: number | undefined;
};
type Step =
  | { kind: 'grant'; account: number; amount: number; lot: LotPick; reuse: number | undefined }
  | { kind: 'void'; account: number; lot: number }
  | { kind: 'sweep'; account: number; lot: number }
  | { kind: 'debit'; account: number; amount: number }
  | { kind: 'start'; project: number; account: number; cost: number; deadlineSeconds: number | undefined }
  | { kind: 'claim'; project: number; worker: number; leaseSeconds: number }
  | { kind: 'heartbeat'; project: number; attempt: AttemptPick; leaseSeconds: number }
  | { kind: 'complete'; project: number; attempt: AttemptPick; credits: CreditsPick; withAssets: boolean }
  | { kind: 'fail'; project: number; attempt: AttemptPick | 'owner'; message: number }
  | { kind: 'expire'; project: number }
  | { kind: 'attach'; project: number; asset: number }
  | { kind: 'report'; project: number; succeeded: boolean; asset: number | undefined }
  | { kind: 'tick'; seconds: number }
  | { kind: 'replay'; index: number };

// Mostly valid amounts, sometimes input the domain must refuse on its own.
const amount = fc.oneof(
  { weight: 9, arbitrary: fc.integer({ min: 1, max: 300 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -7, 2.5, Number.NaN, AMOUNT_MAX + 1) },
);
const account = fc.nat(ACCOUNTS.length - 1);
const project = fc.nat(PROJECTS.length - 1);
const attempt = fc.constantFrom<AttemptPick>(0, 0, 0, -1, 1);
const leaseSeconds = fc.integer({ min: 5, max: 60 });

// Lots of every kind: priorities that tie and differ, expiries soon (a tick passes them), later
// or never, now and then one in the past (refused); sometimes the grantId of an earlier grant.
const lotPick: fc.Arbitrary<LotPick> = fc.record({
  category: fc.constantFrom(undefined, 'paid' as const, 'promotional' as const),
  // Ties are where the order's later rules decide: the default priority and no expiry come up most.
  priority: fc.constantFrom(undefined, undefined, 50, 0, 100),
  expiresIn: fc.constantFrom(undefined, undefined, undefined, 1, 30, 60, 600, -5),
});
const lotIndex = fc.nat(5);

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom('grant' as const),
      account,
      amount,
      lot: lotPick,
      reuse: fc.option(fc.nat(5), { freq: 8, nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('void' as const), account, lot: lotIndex }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const), account, lot: lotIndex }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('debit' as const), account, amount }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('start' as const),
      project,
      account,
      cost: amount,
      deadlineSeconds: fc.constantFrom(undefined, 60, 200),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('claim' as const), project, worker: fc.nat(2), leaseSeconds }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), project, attempt, leaseSeconds }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('complete' as const),
      project,
      attempt,
      credits: fc.constantFrom<CreditsPick>('default', 'zero', 'half', 'all', 'over'),
      withAssets: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('fail' as const),
      project,
      attempt: fc.constantFrom<AttemptPick | 'owner'>(0, -1, 'owner'),
      message: fc.nat(1),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const), project }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('attach' as const), project, asset: fc.nat(1) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('report' as const),
      project,
      succeeded: fc.boolean(),
      asset: fc.constantFrom(undefined, 0, 1),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 90 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('replay' as const), index: fc.nat() }) },
);

/**
 * A history as the service wrote it before lots, per account: grants named after their event
 * id, plain debits, and projects started without lots that are left pending or processing (their
 * refund comes after the upgrade: to the old lots only), failed or completed with part used (an
 * unnamed refund). A debit the balance can't pay for is left out, as the service refused it then.
 */
type LegacyOp =
  | { kind: 'grant'; amount: number }
  | { kind: 'debit'; amount: number }
  | { kind: 'project'; project: number; cost: number; end: 'pending' | 'processing' | 'failed' | 'partial' };
const legacyAmount = fc.integer({ min: 1, max: 200 });
const legacyOp: fc.Arbitrary<LegacyOp> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('grant' as const), amount: legacyAmount }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('debit' as const), amount: legacyAmount }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('project' as const),
      project,
      cost: legacyAmount,
      end: fc.constantFrom('pending' as const, 'processing' as const, 'failed' as const, 'partial' as const),
    }),
  },
);
type LegacyHistory = readonly { account: number; op: LegacyOp }[];
const legacyHistory: fc.Arbitrary<LegacyHistory> = fc.oneof(
  { weight: 1, arbitrary: fc.constant([]) },
  { weight: 2, arbitrary: fc.array(fc.record({ account, op: legacyOp }), { minLength: 1, maxLength: 12 }) },
);

const BEFORE_LOTS_MS = T0_MS - 3_600_000;

function seedLegacy(ledger: InMemoryLedger, history: LegacyHistory): void {
  const balances = new Map<string, number>();
  const started = new Set<string>();
  let id = 0;
  for (const { account: a, op } of history) {
    const accountId = ACCOUNTS[a]!;
    const balance = balances.get(accountId) ?? 0;
    const accountEvents: (AccountEvent & { id: string })[] = [];
    const projectEvents: LedgerEvent[] = [];
    const event = (e: AccountEvent) => accountEvents.push({ ...e, id: `evt-${++id}` });
    if (op.kind === 'grant') {
      event({ type: 'CreditsGranted', data: { amount: op.amount, source: 'purchase' } });
      balances.set(accountId, balance + op.amount);
    } else if (op.kind === 'debit') {
      if (op.amount > balance) continue;
      event({ type: 'Debited', data: { amount: op.amount, reason: 'fee' } });
      balances.set(accountId, balance - op.amount);
    } else {
      const projectId = PROJECTS[op.project]!;
      if (op.cost > balance || started.has(projectId)) continue;
      started.add(projectId);
      event({ type: 'Debited', data: { amount: op.cost, projectId, reason: 'project_started' } });
      const deadlineAt = new Date(T0_MS + 150_000).toISOString();
      projectEvents.push({ type: 'ProjectStarted', data: { accountId, cost: op.cost, deadlineAt } });
      if (op.end !== 'pending') {
        const leaseExpiresAt = new Date(T0_MS + 20_000).toISOString();
        projectEvents.push({ type: 'ProjectClaimed', data: { attempt: 1, workerId: 'w1', leaseExpiresAt } });
      }
      let refunded = 0;
      if (op.end === 'failed') {
        projectEvents.push({ type: 'ProjectFailed', data: { attempt: 1, code: 'failed', errorMessage: 'old' } });
        refunded = op.cost;
        event({ type: 'Refunded', data: { amount: refunded, projectId, reason: 'project_failed' } });
      } else if (op.end === 'partial') {
        const creditsUsed = Math.floor(op.cost / 2);
        projectEvents.push({ type: 'ProjectCompleted', data: { attempt: 1, creditsUsed } });
        refunded = op.cost - creditsUsed;
        if (refunded > 0) event({ type: 'Refunded', data: { amount: refunded, projectId, reason: 'partial_use' } });
      }
      balances.set(accountId, balance - op.cost + refunded);
      ledger.seed(projectStream(projectId), projectEvents, BEFORE_LOTS_MS);
    }
    ledger.seed(accountStream(accountId), accountEvents, BEFORE_LOTS_MS);
  }
}

type Run = { ledger: InMemoryLedger; nowMs: number; history: { command: LedgerCommand; accepted: boolean }[] };

/** Turns a step into a concrete command, reading the current attempt and cost the way a worker would know them. */
function commandOf(run: Run, s: Exclude<Step, { kind: 'tick' | 'replay' }>): LedgerCommand {
  const now = new Date(run.nowMs);
  if (s.kind === 'grant') {
    const accountId = ACCOUNTS[s.account]!;
    const earlier = grantIdsOf(run, accountId);
    const grantId =
      s.reuse !== undefined && earlier.length > 0 ? earlier[s.reuse % earlier.length]! : `g${run.history.length}`;
    const { category, priority, expiresIn } = s.lot;
    const expiresAt = expiresIn === undefined ? undefined : new Date(run.nowMs + expiresIn * 1000).toISOString();
    const source = category === 'promotional' ? 'promo' : 'purchase';
    return { type: 'GrantCredits', accountId, amount: s.amount, source, grantId, category, priority, expiresAt, now };
  }
  if (s.kind === 'void' || s.kind === 'sweep') {
    const accountId = ACCOUNTS[s.account]!;
    const ids = grantIdsOf(run, accountId);
    const grantId = ids.length === 0 || s.lot >= ids.length + 1 ? 'unknown' : ids[s.lot % ids.length]!;
    return s.kind === 'void'
      ? { type: 'VoidGrant', accountId, grantId, reason: 'chargeback', now }
      : { type: 'ExpireCredits', accountId, grantId, now };
  }
  if (s.kind === 'debit')
    return { type: 'DebitCredits', accountId: ACCOUNTS[s.account]!, amount: s.amount, reason: 'fee', now };
  const projectId = PROJECTS[s.project]!;
  if (s.kind === 'start') {
    const { cost, deadlineSeconds } = s;
    return { type: 'StartProject', projectId, accountId: ACCOUNTS[s.account]!, cost, deadlineSeconds, now };
  }
  const state = run.ledger.project(projectId);
  const current = state.status === 'none' ? 1 : state.attempt;
  const cost = state.status === 'none' ? 100 : state.cost;
  switch (s.kind) {
    case 'claim':
      return { type: 'ClaimProject', projectId, workerId: WORKERS[s.worker]!, leaseSeconds: s.leaseSeconds, now };
    case 'heartbeat':
      return { type: 'HeartbeatProject', projectId, attempt: current + s.attempt, leaseSeconds: s.leaseSeconds, now };
    case 'complete': {
      const credits = { default: undefined, zero: 0, half: Math.floor(cost / 2), all: cost, over: cost + 1 };
      const assets = s.withAssets ? { previewUrl: `https://cdn.example/${projectId}.jpg` } : undefined;
      return {
        type: 'CompleteProject',
        projectId,
        attempt: current + s.attempt,
        creditsUsed: credits[s.credits],
        assets,
        now,
      };
    }
    case 'fail': {
      const attemptOf = s.attempt === 'owner' ? undefined : current + s.attempt;
      return { type: 'FailProject', projectId, attempt: attemptOf, errorMessage: `error ${s.message}`, now };
    }
    case 'expire':
      return { type: 'ExpireProject', projectId, attemptsMax: 2, now };
    case 'attach':
      return { type: 'AttachAssets', projectId, assets: { assetUrl: `https://cdn.example/${s.asset}.mp4` }, now };
    case 'report': {
      const assets = s.asset === undefined ? undefined : { assetUrl: `https://cdn.example/${s.asset}.mp4` };
      return { type: 'ApplyProviderReport', projectId, outcome: s.succeeded ? 'succeeded' : 'failed', assets, now };
    }
  }
}

function grantIdsOf(run: Run, accountId: string): string[] {
  return run.ledger.eventsOf(accountStream(accountId)).flatMap((event) => {
    if (event.type !== 'CreditsGranted') return [];
    // A grant written before lots is the lot named after its event id.
    const grantId = event.data.grantId ?? (event as { id?: string }).id;
    return grantId === undefined ? [] : [grantId];
  });
}

const seen = new Map<string, number>();
const count = (label: string) => seen.set(label, (seen.get(label) ?? 0) + 1);

function checkOutcome(run: Run, command: LedgerCommand, outcome: Outcome): void {
  const attemptOf = 'attempt' in command ? command.attempt : undefined;
  if ('projectId' in command && command.type !== 'StartProject' && attemptOf !== undefined && attemptOf >= 1) {
    const state = run.ledger.project(command.projectId);
    // The fence comes first, whatever the state: a stale attempt is refused before anything else.
    if (state.status !== 'none' && state.attempt !== attemptOf) {
      assert(
        !outcome.accepted && outcome.violation.code === 'stale_attempt',
        `attempt ${attemptOf} of ${state.attempt} not fenced`,
      );
    }
  }
  const money = 'amount' in command ? command.amount : 'cost' in command ? command.cost : 1;
  if (!(Number.isSafeInteger(money) && money >= 1 && money <= AMOUNT_MAX)) {
    assert(!outcome.accepted && outcome.violation.code === 'validation_failed', `bad amount ${money} not refused`);
  }
}

function runSteps(steps: readonly Step[], legacy: LegacyHistory = []): void {
  const run: Run = { ledger: new InMemoryLedger(), nowMs: T0_MS, history: [] };
  seedLegacy(run.ledger, legacy);
  if (legacy.length > 0) checkInvariants(run.ledger);
  // Two accounts start funded so that projects get going; the third must earn its grants.
  for (const accountId of ACCOUNTS.slice(0, 2)) {
    const now = new Date(run.nowMs);
    run.ledger.execute({ type: 'GrantCredits', accountId, amount: 500, source: 'promo', grantId: 'g-start', now });
  }
  for (const s of steps) {
    if (s.kind === 'tick') {
      run.nowMs += s.seconds * 1000;
      continue;
    }
    const replayed = s.kind === 'replay' ? run.history[s.index % Math.max(run.history.length, 1)] : undefined;
    if (s.kind === 'replay' && replayed === undefined) continue;
    const command = replayed?.command ?? commandOf(run, s as Exclude<Step, { kind: 'tick' | 'replay' }>);
    checkOutcome(run, command, run.ledger.decide(command));
    const outcome = run.ledger.execute(command);
    const appended = outcome.accepted && outcome.decision.account.length + outcome.decision.project.length > 0;
    count(outcome.accepted ? `${command.type} ${appended ? 'appended' : 'changed nothing'}` : outcome.violation.code);
    if (replayed?.accepted && 'projectId' in command) {
      // I5 later on: an accepted project command, replayed after other steps, appends nothing;
      // except that assets are a last-writer-wins value: replaying an older attachment after a
      // newer one sets its assets again, and never moves money or ends the project.
      const events = outcome.accepted ? [...outcome.decision.account, ...outcome.decision.project] : [];
      assert(
        events.every((event) => event.type === 'ProjectAssetsAttached'),
        `replayed ${command.type} appended ${events.map((e) => e.type).join(', ')}`,
      );
    }
    if (outcome.accepted) checkAccepted(run, command, outcome);
    run.history.push({ command, accepted: outcome.accepted });
    checkInvariants(run.ledger);
  }
}

function checkAccepted(run: Run, command: LedgerCommand, outcome: Extract<Outcome, { accepted: true }>): void {
  const { decision } = outcome;
  if (decision.account.some((event) => event.type === 'Refunded')) count('refund');
  if (decision.project.some((event) => event.type === 'ProjectCompleted' && event.data.attempt === 0)) {
    // The provider, worker of record, ended a project nobody claimed: a worker's attempt is stale after it.
    assert.strictEqual(command.type, 'ApplyProviderReport', `${command.type} completed an unclaimed project`);
    count('provider completed an unclaimed project');
  }
  const legacyRefund = decision.account.find((event) => event.type === 'Refunded' && event.data.legacy === true);
  if (legacyRefund !== undefined) {
    count('refund of a project started before lots');
    // The lots projects started since drew from are the ones an old refund could wrongly take.
    const stream = run.ledger.eventsOf(accountStream(decision.accountId)) as AccountEvent[];
    const namedDraws = stream.some((e) => e.type === 'Debited' && e.data.lots !== undefined && e.data.projectId);
    if (namedDraws) count('refund of a project started before lots, after newer projects drew');
  }
  if (decision.account.some((event) => event.type === 'Refunded') && decision.account.length > 1) {
    count('refund to a closed lot');
  }
  if ('balance' in decision.reply) {
    // What can be spent at the command's `now`: the lots neither expired nor voided (API.md).
    const stream = accountStream(decision.accountId);
    const events = run.ledger.eventsOf(stream) as AccountEvent[];
    const balance = spendableFromLog(events, run.ledger.timesOf(stream), command.now.getTime());
    assert.strictEqual(decision.reply.balance, balance, 'the reply balance is not what the log says can be spent');
    assert(balance <= balanceFromLog(events), 'more can be spent than the balance');
  }
  if ('projectId' in command) {
    // I5 at once: the same command again appends nothing and answers exactly as the first time.
    const again = run.ledger.decide(command);
    assert(again.accepted, `replay of ${command.type} refused: ${again.accepted ? '' : again.violation.code}`);
    assert.deepStrictEqual([...again.decision.account, ...again.decision.project], []);
    assert.deepStrictEqual(again.decision.reply, decision.reply);
  }
}

describe('the ledger under random command sequences', () => {
  it('keeps I1, I2, I3, I5 and I7 after every step, from an empty log or one written before lots', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 5, maxLength: 50, size: 'max' }), legacyHistory, (steps, legacy) =>
        runSteps(steps, legacy),
      ),
      { numRuns: 1500 },
    );
    // The property says nothing if the sequences never reach the interesting states.
    const wanted = [
      'GrantCredits appended',
      'GrantCredits changed nothing',
      'VoidGrant appended',
      'ExpireCredits appended',
      'ExpireCredits changed nothing',
      'refund to a closed lot',
      'DebitCredits appended',
      'StartProject appended',
      'StartProject changed nothing',
      'ClaimProject appended',
      'ClaimProject changed nothing',
      'HeartbeatProject appended',
      'CompleteProject appended',
      'CompleteProject changed nothing',
      'FailProject appended',
      'FailProject changed nothing',
      'ExpireProject appended',
      'AttachAssets appended',
      'AttachAssets changed nothing',
      'ApplyProviderReport appended',
      'ApplyProviderReport changed nothing',
      'provider completed an unclaimed project',
      'refund',
      'refund of a project started before lots',
      'refund of a project started before lots, after newer projects drew',
      'stale_attempt',
      'lease_held',
      'invalid_transition',
      'insufficient_credits',
      'validation_failed',
      'already_exists',
      'not_found',
    ];
    expect(wanted.filter((label) => !seen.has(label))).toEqual([]);
  });
});
