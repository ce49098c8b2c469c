import { RESULT_URLS_MAX } from '../limits.js';
import type { LedgerEvent } from '../ledger.js';
import {
  COST,
  PROJECT_ID,
  assetsAttached,
  attach,
  badFields,
  claim,
  claimed,
  complete,
  completed,
  fail,
  failed,
  given,
  pendingHistory,
  processingHistory,
  refunded,
  report,
} from '../testing/ledger-fixtures.js';
import type { ProjectAssets } from './project.events.js';

const asset: ProjectAssets = { assetUrl: 'https://cdn.example/a.mp4' };
const preview: ProjectAssets = { previewUrl: 'https://cdn.example/p.jpg' };
const completedBare: readonly LedgerEvent[] = [...processingHistory, completed(1)];
const completedWithAsset: readonly LedgerEvent[] = [
  ...processingHistory,
  completed(1, 60, asset),
  refunded(40, 'partial_use'),
];
const failedHistory: readonly LedgerEvent[] = [
  ...processingHistory,
  failed('failed', 'boom', 1),
  refunded(COST, 'project_failed'),
];
const cancelledHistory: readonly LedgerEvent[] = [
  ...pendingHistory,
  failed('cancelled', 'stop'),
  refunded(COST, 'project_failed'),
];

describe('AttachAssets', () => {
  it('gives a project completed without a result its assets', () => {
    const decision = given(completedBare)
      .when(attach({ ...asset, ...preview }))
      .then([assetsAttached({ ...asset, ...preview })]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'completed', assets: { ...asset, ...preview } });
    expect(decision.accountId).toBe('acc-1');
  });

  it('merges: the keys given replace the ones the project has, the others stay, the event holds them all', () => {
    const newer = { assetUrl: 'https://cdn.example/a2.mp4', thumbnailUrl: 'https://cdn.example/t.jpg' };
    given([...completedWithAsset, assetsAttached({ ...asset, ...preview })])
      .when(attach(newer))
      .then([assetsAttached({ ...preview, ...newer })]);
  });

  it('replaces the list of result URLs as a whole', () => {
    given([...completedBare, assetsAttached({ resultUrls: ['https://x.example/1', 'https://x.example/2'] })])
      .when(attach({ resultUrls: ['https://x.example/3'] }))
      .then([assetsAttached({ resultUrls: ['https://x.example/3'] })]);
  });

  it('treats assets the project already has as a repeat: no events, its assets in the reply', () => {
    const decision = given(completedWithAsset).when(attach(asset)).then([]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'completed', assets: asset });
    // Whatever the key order, absent keys, or when the assets came by an earlier attachment.
    const both = { ...asset, ...preview };
    given([...completedBare, assetsAttached(both)])
      .when(attach({ previewUrl: preview.previewUrl, thumbnailUrl: undefined, assetUrl: asset.assetUrl }))
      .then([]);
    given([...completedBare, assetsAttached(both)])
      .when(attach(preview))
      .then([]);
  });

  it('still recognises the repeat of the completing command after an attachment', () => {
    given([...completedWithAsset, assetsAttached({ ...asset, ...preview })])
      .when(complete(1, { creditsUsed: 60, assets: asset }))
      .then([]);
  });

  it.each([
    ['pending', pendingHistory],
    ['processing', processingHistory],
    ['failed', failedHistory],
  ])('refuses a %s project: only a completed one has a result', (status, history) => {
    const violation = given(history).when(attach(asset)).thenFails('invalid_transition');
    expect(violation.details).toEqual({ status });
  });

  it('refuses a project that does not exist', () => {
    given([]).when(attach(asset)).thenFails('not_found');
  });

  it('accepts the longest list of result URLs and refuses one more', () => {
    const urls = (n: number) => Array.from({ length: n }, (_, i) => `https://x.example/${i}`);
    given(completedBare)
      .when(attach({ resultUrls: urls(RESULT_URLS_MAX) }))
      .then([assetsAttached({ resultUrls: urls(RESULT_URLS_MAX) })]);
    given(completedBare)
      .when(attach({ resultUrls: urls(RESULT_URLS_MAX + 1) }))
      .thenFails('validation_failed');
  });

  it.each<[string, unknown]>([
    ['no assets at all', {}],
    ['only absent keys', { previewUrl: undefined }],
    ['a non-http URL', { assetUrl: 'ftp://cdn.example/a' }],
    ['an unknown key', { videoUrl: 'https://cdn.example/v' }],
    ['not an object', 'https://cdn.example/a'],
    ['nothing', undefined],
  ])('refuses %s', (_, bad) => {
    const violation = given(completedBare)
      .when(attach(bad as ProjectAssets))
      .thenFails('validation_failed');
    expect(badFields(violation.details)).toEqual(['assets']);
  });

  it('refuses a bad project id and a bad instant', () => {
    const violation = given(completedBare)
      .when(attach(asset, { projectId: 'a b', now: new Date(Number.NaN) }))
      .thenFails('validation_failed');
    expect(badFields(violation.details)).toEqual(['projectId', 'now']);
  });
});

describe('ApplyProviderReport', () => {
  it('completes a processing project for its current attempt, the whole cost used, with the assets', () => {
    const decision = given([...processingHistory, claimed(2, 'w2', 90)])
      .when(report('succeeded', { assets: asset }))
      .then([completed(2, COST, asset)]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'completed', refunded: 0, assets: asset });
  });

  it('completes without assets when the provider sent none', () => {
    const decision = given([...processingHistory])
      .when(report('succeeded'))
      .then([completed(1, COST)]);
    expect(decision.reply).toMatchObject({ status: 'completed', assets: null });
  });

  it('attaches the assets to a project a worker completed without them', () => {
    const decision = given(completedBare)
      .when(report('succeeded', { assets: { ...asset, ...preview } }))
      .then([assetsAttached({ ...asset, ...preview })]);
    expect(decision.reply).toEqual({
      projectId: PROJECT_ID,
      status: 'completed',
      refunded: 0,
      assets: { ...asset, ...preview },
    });
    given(completedWithAsset)
      .when(report('succeeded', { assets: preview }))
      .then([assetsAttached({ ...asset, ...preview })]);
  });

  it('changes nothing for a success the completed project already reflects', () => {
    const decision = given(completedWithAsset)
      .when(report('succeeded', { assets: asset }))
      .then([]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'completed', refunded: 40, assets: asset });
    given(completedWithAsset).when(report('succeeded')).then([]);
  });

  it("fails a processing project with the provider's message, code provider_failed, for the current attempt", () => {
    const decision = given([...processingHistory])
      .when(report('failed', { errorMessage: 'NSFW content' }))
      .then([refunded(COST, 'project_failed'), failed('provider_failed', 'NSFW content', 1)]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'failed', refunded: COST, assets: null });
  });

  it('fails a pending project too, without an attempt, and with a default message when none was given', () => {
    given([...pendingHistory])
      .when(report('failed'))
      .then([
        refunded(COST, 'project_failed'),
        failed('provider_failed', 'the provider reported that the task failed'),
      ]);
  });

  it('changes nothing for a failure of a failed project, whoever failed it: no second refund', () => {
    const decision = given(failedHistory)
      .when(report('failed', { errorMessage: 'other words' }))
      .then([]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'failed', refunded: COST, assets: null });
    given(cancelledHistory).when(report('failed')).then([]);
  });

  it('completes a pending project no worker claimed, as attempt 0, the whole cost used, with the assets', () => {
    const decision = given([...pendingHistory])
      .when(report('succeeded', { assets: asset }))
      .then([completed(0, COST, asset)]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'completed', refunded: 0, assets: asset });
    expect(decision.account).toEqual([]);
  });

  it("refuses a worker's claim, complete or fail after the provider completed the unclaimed project", () => {
    const byProvider = [...pendingHistory, completed(0, COST, asset)];
    given(byProvider).when(claim('w1', 5)).thenFails('invalid_transition');
    given(byProvider)
      .when(complete(1, { assets: asset }))
      .thenFails('stale_attempt');
    given(byProvider)
      .when(fail({ attempt: 1 }))
      .thenFails('stale_attempt');
    given(byProvider).when(fail()).thenFails('invalid_transition');
    // The same report again, or the assets it already has, changes nothing.
    given(byProvider)
      .when(report('succeeded', { assets: asset }))
      .then([]);
    given(byProvider).when(report('failed')).thenFails('invalid_transition');
  });

  it('completes a pending project without assets when the provider sent none', () => {
    given([...pendingHistory])
      .when(report('succeeded'))
      .then([completed(0, COST)]);
  });

  it.each<[string, readonly LedgerEvent[], 'succeeded' | 'failed']>([
    ['a success for a failed project', failedHistory, 'succeeded'],
    ['a success for a project cancelled before any claim', cancelledHistory, 'succeeded'],
    ['a failure for a completed project', completedWithAsset, 'failed'],
  ])('refuses %s as invalid_transition', (_, history, outcome) => {
    given(history)
      .when(report(outcome, { assets: asset }))
      .thenFails('invalid_transition');
  });

  it('refuses a project that does not exist', () => {
    given([]).when(report('succeeded')).thenFails('not_found');
  });

  it('refuses a bad outcome, bad assets and an empty error message', () => {
    const violation = given([...processingHistory])
      .when(
        report('done' as 'failed', {
          assets: { assetUrl: 'javascript:alert(1)' },
          errorMessage: '',
        }),
      )
      .thenFails('validation_failed');
    expect(badFields(violation.details)).toEqual(['outcome', 'assets', 'errorMessage']);
  });

  it('answers a repeat of an accepted report as the first time, appending nothing', () => {
    const first = given([...processingHistory])
      .when(report('succeeded', { assets: asset }))
      .then([completed(1, COST, asset)]);
    const again = given([...processingHistory, completed(1, COST, asset)])
      .when(report('succeeded', { assets: asset }))
      .then([]);
    expect(again.reply).toEqual(first.reply);
  });
});

describe('ProjectAssetsAttached', () => {
  it('is refused by evolve on a project that is not completed (a corrupt stream)', () => {
    expect(() =>
      given([...processingHistory, assetsAttached(asset)])
        .when(report('failed'))
        .then([]),
    ).toThrow('ProjectAssetsAttached on a processing project');
  });
});
