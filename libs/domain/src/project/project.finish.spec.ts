import { AMOUNT_MAX, ERROR_MESSAGE_LENGTH_MAX, RESULT_URLS_MAX } from '../limits.js';
import {
  COST,
  PROJECT_ID,
  at,
  badFields,
  claimed,
  complete,
  completed,
  expire,
  fail,
  failed,
  given,
  iso,
  pendingHistory,
  processingHistory,
  refunded,
} from '../testing/ledger-fixtures.js';
import type { ProjectAssets } from './project.events.js';

const assets: ProjectAssets = { assetUrl: 'https://cdn.example/a.mp4', previewUrl: 'http://cdn.example/p.jpg' };
const completedHistory = [...processingHistory, completed(1, 60, assets), refunded(40, 'partial_use')];
const failedHistory = [...processingHistory, failed('failed', 'boom', 1), refunded(COST, 'project_failed')];

describe('CompleteProject', () => {
  it('completes with the whole cost used by default: nothing to refund', () => {
    const decision = given([...processingHistory])
      .when(complete(1))
      .then([completed(1, COST)]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'completed', refunded: 0 });
  });

  it('refunds what a partial use left over, in the same decision, with the assets', () => {
    const decision = given([...processingHistory])
      .when(complete(1, { creditsUsed: 60, assets }))
      .then([refunded(40, 'partial_use'), completed(1, 60, assets)]);
    expect(decision.reply).toMatchObject({ refunded: 40 });
    expect(decision.accountId).toBe('acc-1');
  });

  it('accepts creditsUsed from 0 to the cost and refuses one past the cost', () => {
    given([...processingHistory])
      .when(complete(1, { creditsUsed: 0 }))
      .then([refunded(COST, 'partial_use'), completed(1, 0)]);
    given([...processingHistory])
      .when(complete(1, { creditsUsed: COST }))
      .then([completed(1, COST)]);
    const violation = given([...processingHistory])
      .when(complete(1, { creditsUsed: COST + 1 }))
      .thenFails('validation_failed');
    expect(badFields(violation.details)).toEqual(['creditsUsed']);
  });

  it.each([-1, 2.5, AMOUNT_MAX + 1])('refuses creditsUsed %p', (creditsUsed) => {
    given([...processingHistory])
      .when(complete(1, { creditsUsed }))
      .thenFails('validation_failed');
  });

  it.each<[string, unknown]>([
    ['a non-http URL', { assetUrl: 'ftp://cdn.example/a' }],
    ['a script URL', { previewUrl: 'javascript:alert(1)' }],
    ['an unknown key', { videoUrl: 'https://cdn.example/v' }],
    [
      'too many result URLs',
      { resultUrls: Array.from({ length: RESULT_URLS_MAX + 1 }, (_, i) => `https://x.example/${i}`) },
    ],
    ['a list that is not one', { resultUrls: 'https://x.example/1' }],
  ])('refuses assets with %s', (_, bad) => {
    given([...processingHistory])
      .when(complete(1, { assets: bad as ProjectAssets }))
      .thenFails('validation_failed');
  });

  it('accepts the exact repeat of the completing command, whatever its key order', () => {
    const reordered = { previewUrl: assets.previewUrl, assetUrl: assets.assetUrl, thumbnailUrl: undefined };
    const decision = given(completedHistory)
      .when(complete(1, { creditsUsed: 60, assets: reordered, now: at(99) }))
      .then([]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'completed', refunded: 40 });
  });

  it('takes a default creditsUsed and the explicit cost as the same command', () => {
    given([...processingHistory, completed(1, COST)])
      .when(complete(1, { creditsUsed: COST }))
      .then([]);
  });

  it.each([
    ['other credits', { creditsUsed: 61, assets }],
    ['other assets', { creditsUsed: 60 }],
  ])('refuses a second completion with %s', (_, extra) => {
    given(completedHistory).when(complete(1, extra)).thenFails('invalid_transition');
  });

  it('refuses to complete a failed project', () => {
    given(failedHistory).when(complete(1)).thenFails('invalid_transition');
  });

  it('refuses a stalled worker after another attempt failed the project (the overwrite it exists to end)', () => {
    const history = [
      ...processingHistory,
      claimed(2, 'w2', 90),
      failed('failed', 'boom', 2),
      refunded(COST, 'project_failed'),
    ];
    given(history).when(complete(1)).thenFails('stale_attempt');
  });

  it.each([
    ['an older attempt', [...processingHistory, claimed(2, 'w2', 90)], 1],
    ['a pending project', [...pendingHistory], 1],
    ['a future attempt', [...processingHistory], 2],
  ])('refuses %s as stale before anything else', (_, history, attempt) => {
    given(history)
      .when(complete(attempt, { creditsUsed: COST + 1 }))
      .thenFails('stale_attempt');
  });

  it('refuses a project that does not exist', () => {
    given([]).when(complete(1)).thenFails('not_found');
  });
});

describe('FailProject', () => {
  it("fails the worker's attempt and refunds the whole cost", () => {
    const decision = given([...processingHistory])
      .when(fail({ attempt: 1 }))
      .then([refunded(COST, 'project_failed'), failed('failed', 'the provider timed out', 1)]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'failed', refunded: COST });
  });

  it('keeps the code a worker gives', () => {
    given([...processingHistory])
      .when(fail({ attempt: 1, code: 'provider_error' }))
      .then([refunded(COST, 'project_failed'), failed('provider_error', 'the provider timed out', 1)]);
  });

  it.each([
    ['pending', pendingHistory],
    ['processing', processingHistory],
  ])('lets the owner cancel a %s project: no attempt, code cancelled, full refund', (_, history) => {
    given([...history])
      .when(fail({ errorMessage: 'changed my mind' }))
      .then([refunded(COST, 'project_failed'), failed('cancelled', 'changed my mind')]);
  });

  it('accepts the exact repeat of the failing command without a second refund', () => {
    const decision = given(failedHistory)
      .when(fail({ attempt: 1, code: 'failed', errorMessage: 'boom' }))
      .then([]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'failed', refunded: COST });
    const cancelled = [...pendingHistory, failed('cancelled', 'stop'), refunded(COST, 'project_failed')];
    given(cancelled)
      .when(fail({ errorMessage: 'stop' }))
      .then([]);
  });

  it.each([
    ['another message', { attempt: 1, errorMessage: 'other' }],
    ['another code', { attempt: 1, errorMessage: 'boom', code: 'timeout' }],
    ['the owner', { errorMessage: 'boom' }],
  ])('refuses a second failure by %s', (_, extra) => {
    given(failedHistory).when(fail(extra)).thenFails('invalid_transition');
  });

  it.each([
    ['by the worker', { attempt: 1 }],
    ['by the owner', {}],
  ])('refuses to fail a completed project %s', (_, extra) => {
    given(completedHistory).when(fail(extra)).thenFails('invalid_transition');
  });

  it.each([
    ['an older attempt', [...processingHistory, claimed(2, 'w2', 90)], 1],
    ['any attempt of a pending project', [...pendingHistory], 1],
    ['an old attempt of a failed project', [...failedHistory], 2],
  ])('refuses %s as stale', (_, history, attempt) => {
    given(history).when(fail({ attempt })).thenFails('stale_attempt');
  });

  it('refuses a project that does not exist', () => {
    given([]).when(fail()).thenFails('not_found');
  });

  it('accepts the longest error message and refuses one character more, or none', () => {
    const longest = 'x'.repeat(ERROR_MESSAGE_LENGTH_MAX);
    given([...pendingHistory])
      .when(fail({ errorMessage: longest }))
      .then([refunded(COST, 'project_failed'), failed('cancelled', longest)]);
    given([...pendingHistory])
      .when(fail({ errorMessage: `${longest}x` }))
      .thenFails('validation_failed');
    given([...pendingHistory])
      .when(fail({ errorMessage: '' }))
      .thenFails('validation_failed');
  });

  it('refuses a bad code and a bad attempt', () => {
    const violation = given([...processingHistory])
      .when(fail({ attempt: 0, code: 'not a code' }))
      .thenFails('validation_failed');
    expect(badFields(violation.details)).toEqual(['attempt', 'code']);
  });
});

describe('ExpireProject', () => {
  it('leaves a project alone before its deadline', () => {
    const decision = given([...pendingHistory])
      .when(expire(3599))
      .then([]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'pending', refunded: 0 });
  });

  it('fails a project at its deadline and refunds it', () => {
    const decision = given([...processingHistory])
      .when(expire(3600))
      .then([
        refunded(COST, 'project_failed'),
        failed('deadline_exceeded', `the project passed its deadline ${iso(3600)}`),
      ]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'failed', refunded: COST });
  });

  it('fails a project whose last allowed attempt let its lease run out', () => {
    given([...processingHistory, claimed(2, 'w2', 90)])
      .when(expire(90, 2))
      .then([refunded(COST, 'project_failed'), failed('attempts_exhausted', 'attempt 2 of 2 let its lease expire')]);
  });

  it.each([
    ['attempts are left', 91, 3],
    ['the last attempt still holds its lease', 89, 2],
  ])('leaves a processing project alone while %s', (_, nowSeconds, attemptsMax) => {
    given([...processingHistory, claimed(2, 'w2', 90)])
      .when(expire(nowSeconds, attemptsMax))
      .then([]);
  });

  it('leaves a finished project alone, without refusing', () => {
    const decision = given(completedHistory).when(expire(7200)).then([]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'completed', refunded: 40 });
    given(failedHistory).when(expire(7200)).then([]);
  });

  it('refuses a project that does not exist, and a bad attemptsMax', () => {
    given([]).when(expire(0)).thenFails('not_found');
    given([...pendingHistory])
      .when(expire(0, 0))
      .thenFails('validation_failed');
  });
});
