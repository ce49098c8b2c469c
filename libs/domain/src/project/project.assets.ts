import { jsonEqual } from '../json-equal.js';
import { ERROR_MESSAGE_LENGTH_MAX } from '../limits.js';
import { RULES, isAssets, isId, isInstant, isOptional, isText, requireValid } from '../validation.js';
import type { ApplyProviderReport, AttachAssets } from './project.commands.js';
import {
  decideWith,
  invalidTransition,
  requireProject,
  type AssetsReply,
  type ProjectDecision,
  type ProviderReportReply,
} from './project.decision.js';
import { FAIL_CODE_PROVIDER_FAILED, type ProjectAssets, type ProjectEvent } from './project.events.js';
import type { AccountState } from '../account/account.state.js';
import { completeWithRefund, decideFailProject, normalizedAssets } from './project.finish.js';
import type { ExistingProject, ProjectState } from './project.state.js';

const ASSETS_RULE = 'known asset keys with http(s) URLs';
const PROVIDER_ERROR_MESSAGE_DEFAULT = 'the provider reported that the task failed';

/**
 * A completed project gets the result assets it lacks, or newer ones: each key given
 * replaces the one it has (`resultUrls` as a whole list), the others stay. Assets the
 * project already has, all of them, are a repeat: no events. Only a completed project
 * has a result; anything else is `invalid_transition`.
 */
export function decideAttachAssets(state: ProjectState, command: AttachAssets): ProjectDecision<AssetsReply> {
  requireValid([
    ['projectId', isId(command.projectId), RULES.id],
    [
      'assets',
      isAssets(command.assets) && normalizedAssets(command.assets) !== undefined,
      `at least one of the ${ASSETS_RULE}`,
    ],
    ['now', isInstant(command.now), RULES.now],
  ]);
  const { projectId } = command;
  const project = requireProject(state, projectId);
  if (project.status !== 'completed') throw invalidTransition(project, projectId, 'attach assets to');
  const current = project.assets ?? {};
  const assets: ProjectAssets = { ...current, ...normalizedAssets(command.assets) };
  const events: ProjectEvent[] = jsonEqual(assets, current)
    ? []
    : [{ type: 'ProjectAssetsAttached', data: { assets } }];
  return decideWith(project, [], events, (next) => ({ projectId, status: 'completed', assets: assetsOf(next) ?? {} }));
}

/**
 * A provider's verified report on the project's task. The provider is the task's worker of
 * record: it holds no attempt of its own and speaks for the current one, or for none when
 * no worker claimed the project. `succeeded` completes a pending or processing project with
 * the whole cost used (a pending one as attempt 0), or attaches the assets to one already
 * completed (a worker may have finished first, without them); `failed` fails a pending or
 * processing project with code `provider_failed` and the refund. A report the project
 * already reflects (a failure of a failed project, a success without new assets of a
 * completed one) changes nothing. A success for a failed project, or a failure for a
 * completed one, contradicts its end: `invalid_transition`.
 */
export function decideProviderReport(
  account: AccountState,
  state: ProjectState,
  command: ApplyProviderReport,
): ProjectDecision<ProviderReportReply> {
  requireValid([
    ['projectId', isId(command.projectId), RULES.id],
    ['outcome', command.outcome === 'succeeded' || command.outcome === 'failed', "'succeeded' or 'failed'"],
    ['assets', isOptional(command.assets, isAssets), ASSETS_RULE],
    [
      'errorMessage',
      isOptional(command.errorMessage, (v) => isText(v, ERROR_MESSAGE_LENGTH_MAX)),
      `1 to ${ERROR_MESSAGE_LENGTH_MAX} characters`,
    ],
    ['now', isInstant(command.now), RULES.now],
  ]);
  const { projectId, now } = command;
  const project = requireProject(state, projectId);
  const replyOf = (next: ExistingProject): ProviderReportReply => ({
    projectId,
    status: next.status,
    refunded: next.refunded,
    assets: assetsOf(next) ?? null,
  });
  const assets = normalizedAssets(command.assets);
  const follow = (decision: ProjectDecision<unknown>) =>
    decideWith(project, decision.account, decision.project, replyOf);
  if (command.outcome === 'failed') {
    if (project.status === 'failed') return decideWith(project, [], [], replyOf);
    const errorMessage = command.errorMessage ?? PROVIDER_ERROR_MESSAGE_DEFAULT;
    const attempt = project.status === 'processing' ? project.attempt : undefined;
    const fail = {
      type: 'FailProject',
      projectId,
      attempt,
      errorMessage,
      code: FAIL_CODE_PROVIDER_FAILED,
      now,
    } as const;
    return follow(decideFailProject(account, project, fail));
  }
  if (project.status === 'completed') {
    if (assets === undefined) return decideWith(project, [], [], replyOf);
    return follow(decideAttachAssets(project, { type: 'AttachAssets', projectId, assets, now }));
  }
  if (project.status === 'failed') throw invalidTransition(project, projectId, 'complete');
  // The provider is the worker of record: it completes the current attempt, or attempt 0 of a
  // project nobody claimed. A worker's later completion then holds a stale attempt (409).
  const data = { attempt: project.attempt, creditsUsed: project.cost, ...(assets === undefined ? {} : { assets }) };
  return completeWithRefund(account, project, projectId, now, data, replyOf);
}

function assetsOf(project: ExistingProject): ProjectAssets | undefined {
  return project.status === 'completed' ? project.assets : undefined;
}
