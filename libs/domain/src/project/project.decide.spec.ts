import { AMOUNT_MAX, DEADLINE_SECONDS_MAX, LEASE_SECONDS_MAX, METADATA_JSON_LENGTH_MAX } from '../limits.js';
import {
  ACCOUNT_ID,
  COST,
  PROJECT_ID,
  at,
  badFields,
  claim,
  claimed,
  completed,
  debited,
  extended,
  failed,
  given,
  granted,
  heartbeat,
  iso,
  pendingHistory,
  processingHistory,
  refunded,
  start,
  started,
} from '../testing/ledger-fixtures.js';
import type { LedgerEvent } from '../ledger.js';
import type { StartProject } from './project.commands.js';

describe('StartProject', () => {
  it('debits the cost and starts the project with the default one-hour deadline', () => {
    const decision = given([granted(500)])
      .when(start())
      .then([debited(), started({ deadlineAt: iso(3600) })]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'pending', balance: 400 });
    expect(decision.accountId).toBe(ACCOUNT_ID);
  });

  it('keeps kind, provider task, deadline and metadata', () => {
    const extra = { kind: 'video', externalTaskId: 'task-9', metadata: { prompt: 'a cat' } };
    given([granted(500)])
      .when(start({ ...extra, deadlineSeconds: 120, now: at(5) }))
      .then([debited(), started({ ...extra, deadlineAt: iso(125), deadlineSeconds: 120 })]);
  });

  it("takes the service's default deadline when none is asked for, and the asked one over it", () => {
    given([granted(500)])
      .when(start({ deadlineSecondsDefault: 600 }))
      .then([debited(), started({ deadlineAt: iso(600) })]);
    given([granted(500)])
      .when(start({ deadlineSeconds: 120, deadlineSecondsDefault: 600 }))
      .then([debited(), started({ deadlineAt: iso(120), deadlineSeconds: 120 })]);
  });

  it('recognises a repeat by the requested deadline, whatever the default was', () => {
    given([...pendingHistory])
      .when(start({ deadlineSecondsDefault: 600, now: at(99) }))
      .then([]);
    given([...pendingHistory])
      .when(start({ deadlineSeconds: 3600, deadlineSecondsDefault: 3600 }))
      .thenFails('already_exists');
  });

  it('may spend the whole balance and refuses one credit more', () => {
    given([granted(COST)])
      .when(start())
      .then([debited(), started()]);
    const violation = given([granted(COST - 1)])
      .when(start())
      .thenFails('insufficient_credits');
    expect(violation.details).toEqual({ balance: COST - 1, amount: COST });
  });

  it('refuses an account that never had a grant as not found', () => {
    given([]).when(start()).thenFails('not_found');
  });

  it.each<[string, Partial<StartProject>]>([
    ['another deadline', { deadlineSeconds: 60 }],
    ['other metadata', { metadata: { prompt: 'a dog' } }],
    ['metadata where there was none', { metadata: {} }],
  ])('refuses a start of an existing project with %s as already_exists', (_, change) => {
    given([...processingHistory])
      .when(start(change))
      .thenFails('already_exists');
  });

  it('treats a start of the same project with the same body as a repeat: no events, the current state', () => {
    const decision = given([...processingHistory])
      .when(start({ now: at(99) }))
      .then([]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'processing', balance: 400 });
  });

  it('recognises the repeat even when the balance could no longer pay for it', () => {
    given([granted(COST), debited(), started()])
      .when(start())
      .then([]);
  });

  it.each<[string, Partial<StartProject>]>([
    ['payer', { accountId: 'acc-2' }],
    ['cost', { cost: COST + 1 }],
    ['kind', { kind: 'image' }],
    ['provider task', { externalTaskId: 'task-1' }],
  ])('refuses a start of an existing project with another %s', (_, extra) => {
    given([...pendingHistory])
      .when(start(extra))
      .thenFails('already_exists');
  });

  it('keeps the debit total exact: a start up to its limit, then refused', () => {
    const max = Number.MAX_SAFE_INTEGER;
    // Start/fail cycles on another project took the debit total to just below the limit.
    const cycled = (amount: number): LedgerEvent[] => [
      granted(amount),
      { type: 'Debited', data: { amount, projectId: 'p0', reason: 'project_started' } },
      { type: 'Refunded', data: { amount, projectId: 'p0', reason: 'project_failed' } },
    ];
    given(cycled(max - COST))
      .when(start())
      .then([debited(), started()]);
    given(cycled(max - COST + 1))
      .when(start())
      .thenFails('balance_limit_exceeded');
  });

  it('accepts the largest cost and deadline, and refuses one past either', () => {
    given([granted(AMOUNT_MAX)])
      .when(start({ cost: AMOUNT_MAX, deadlineSeconds: DEADLINE_SECONDS_MAX }))
      .then([
        debited(AMOUNT_MAX),
        started({ cost: AMOUNT_MAX, deadlineAt: iso(DEADLINE_SECONDS_MAX), deadlineSeconds: DEADLINE_SECONDS_MAX }),
      ]);
    const violation = given([granted(AMOUNT_MAX)])
      .when(start({ cost: AMOUNT_MAX + 1, deadlineSeconds: DEADLINE_SECONDS_MAX + 1 }))
      .thenFails('validation_failed');
    expect(badFields(violation.details)).toEqual(['cost', 'deadlineSeconds']);
  });

  it.each<[string, Partial<StartProject>]>([
    ['cost', { cost: 0 }],
    ['cost', { cost: -1 }],
    ['cost', { cost: 2.5 }],
    ['projectId', { projectId: 'has/slash' }],
    ['accountId', { accountId: '' }],
    ['kind', { kind: '' }],
    ['deadlineSeconds', { deadlineSeconds: 0 }],
    ['deadlineSecondsDefault', { deadlineSecondsDefault: DEADLINE_SECONDS_MAX + 1 }],
    ['metadata', { metadata: ['not', 'an', 'object'] as unknown as Record<string, unknown> }],
    ['metadata', { metadata: { blob: 'x'.repeat(METADATA_JSON_LENGTH_MAX) } }],
    ['metadata', { metadata: { x: JSON.parse('1e400') as number } }],
    ['metadata', { metadata: { nested: [1, Number.NaN] } }],
    ['now', { now: new Date(Number.NaN) }],
    ['now', { now: '2030-01-01' as unknown as Date }],
  ])('refuses a bad %s', (field, extra) => {
    const violation = given([granted(500)])
      .when(start(extra))
      .thenFails('validation_failed');
    expect(badFields(violation.details)).toEqual([field]);
  });
});

describe('ClaimProject', () => {
  it('hands a pending project to the worker as attempt 1 with a lease', () => {
    const decision = given([...pendingHistory])
      .when(claim('w1', 0, 30))
      .then([claimed(1, 'w1', 30)]);
    expect(decision.reply).toEqual({
      projectId: PROJECT_ID,
      status: 'processing',
      attempt: 1,
      leaseExpiresAt: iso(30),
    });
  });

  it('refuses another worker while the lease lives, to its last millisecond', () => {
    const justBefore = { ...claim('w2', 0), now: new Date(at(30).getTime() - 1) };
    const violation = given([...processingHistory])
      .when(justBefore)
      .thenFails('lease_held');
    expect(violation.details).toEqual({ leaseExpiresAt: iso(30) });
  });

  it('gives the holder its own claim back while its lease lives', () => {
    const decision = given([...processingHistory])
      .when(claim('w1', 20))
      .then([]);
    expect(decision.reply).toEqual({
      projectId: PROJECT_ID,
      status: 'processing',
      attempt: 1,
      leaseExpiresAt: iso(30),
    });
  });

  it('starts a new attempt once the lease has run out, for another worker or the same one', () => {
    given([...processingHistory])
      .when(claim('w2', 30, 60))
      .then([claimed(2, 'w2', 90)]);
    given([...processingHistory])
      .when(claim('w1', 45))
      .then([claimed(2, 'w1', 75)]);
  });

  it('counts the lease from the last heartbeat', () => {
    given([...processingHistory, extended(1, 50)])
      .when(claim('w2', 40))
      .thenFails('lease_held');
  });

  it.each([
    ['completed', [...processingHistory, completed(1)]],
    ['failed', [...pendingHistory, failed('cancelled', 'changed my mind'), refunded(COST, 'project_failed')]],
  ])('refuses to claim a %s project', (_, history) => {
    given(history).when(claim('w2', 100)).thenFails('invalid_transition');
  });

  it('refuses a project that does not exist', () => {
    given([granted(500)])
      .when(claim('w1', 0))
      .thenFails('not_found');
  });

  it('accepts the longest lease and refuses one second more, or none', () => {
    given([...pendingHistory])
      .when(claim('w1', 0, LEASE_SECONDS_MAX))
      .then([claimed(1, 'w1', LEASE_SECONDS_MAX)]);
    given([...pendingHistory])
      .when(claim('w1', 0, LEASE_SECONDS_MAX + 1))
      .thenFails('validation_failed');
    given([...pendingHistory])
      .when(claim('w1', 0, 0))
      .thenFails('validation_failed');
    given([...pendingHistory])
      .when(claim('w1', 0, 1.5))
      .thenFails('validation_failed');
  });

  it('refuses a bad worker id', () => {
    const violation = given([...pendingHistory])
      .when(claim('w 1', 0))
      .thenFails('validation_failed');
    expect(badFields(violation.details)).toEqual(['workerId']);
  });
});

describe('HeartbeatProject', () => {
  it('extends the current attempt lease to now + leaseSeconds', () => {
    const decision = given([...processingHistory])
      .when(heartbeat(1, 20, 30))
      .then([extended(1, 50)]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, attempt: 1, leaseExpiresAt: iso(50) });
  });

  it('never shortens the lease: a late or repeated heartbeat changes nothing', () => {
    const decision = given([...processingHistory, extended(1, 50)])
      .when(heartbeat(1, 10, 30))
      .then([]);
    expect(decision.reply).toMatchObject({ leaseExpiresAt: iso(50) });
    given([...processingHistory, extended(1, 50)])
      .when(heartbeat(1, 20, 30))
      .then([]);
  });

  it('lets the holder extend a lease that ran out while nobody claimed', () => {
    given([...processingHistory])
      .when(heartbeat(1, 40, 30))
      .then([extended(1, 70)]);
  });

  it.each([
    ['an older attempt', [...processingHistory, claimed(2, 'w2', 90)], 1],
    ['a future attempt', [...processingHistory], 2],
    ['any attempt of a pending project', [...pendingHistory], 1],
    ['an old attempt of a completed project', [...processingHistory, claimed(2, 'w2', 90), completed(2)], 1],
  ])('refuses %s as stale', (_, history, attempt) => {
    const violation = given(history).when(heartbeat(attempt, 20)).thenFails('stale_attempt');
    expect(violation.details).toMatchObject({ attempt });
  });

  it('refuses the current attempt of a finished project', () => {
    given([...processingHistory, completed(1)])
      .when(heartbeat(1, 20))
      .thenFails('invalid_transition');
  });

  it('refuses a project that does not exist', () => {
    given([]).when(heartbeat(1, 0)).thenFails('not_found');
  });

  it.each([0, -1, 1.5])('refuses the attempt %p', (attempt) => {
    given([...processingHistory])
      .when(heartbeat(attempt, 20))
      .thenFails('validation_failed');
  });

  it('accepts the longest lease and refuses one second more', () => {
    given([...processingHistory])
      .when(heartbeat(1, 0, LEASE_SECONDS_MAX))
      .then([extended(1, LEASE_SECONDS_MAX)]);
    given([...processingHistory])
      .when(heartbeat(1, 0, LEASE_SECONDS_MAX + 1))
      .thenFails('validation_failed');
  });
});
