import { decideAccount, type AccountDecision } from './account/account.decide.js';
import type { AccountCommand } from './account/account.commands.js';
import type { AccountEvent } from './account/account.events.js';
import { evolveAccount, initialAccountState, type AccountState } from './account/account.state.js';
import type { ProjectCommand } from './project/project.commands.js';
import { decideClaimProject, decideHeartbeatProject, decideStartProject } from './project/project.decide.js';
import { decideAttachAssets, decideProviderReport } from './project/project.assets.js';
import type {
  AssetsReply,
  ClaimReply,
  FinishReply,
  HeartbeatReply,
  ProviderReportReply,
  StartReply,
} from './project/project.decision.js';
import type { ProjectEvent } from './project/project.events.js';
import { decideCompleteProject, decideExpireProject, decideFailProject } from './project/project.finish.js';
import { evolveProject, initialProjectState, type ProjectState, type ProjectStatus } from './project/project.state.js';

/**
 * One account and one project seen together: what a decision touching both streams reads.
 * Handlers call the specific `decide…` functions; this dispatch serves the specs and the
 * property test, which drive every command the same way.
 */
export type LedgerState = Readonly<{ account: AccountState; project: ProjectState }>;
export type LedgerEvent = AccountEvent | ProjectEvent;
export type LedgerCommand = AccountCommand | ProjectCommand;

export type LedgerReply =
  | AccountDecision['reply']
  | StartReply
  | ClaimReply
  | HeartbeatReply
  | FinishReply<ProjectStatus>
  | AssetsReply
  | ProviderReportReply;

export type LedgerDecision = Readonly<{
  accountId: string;
  account: readonly AccountEvent[];
  project: readonly ProjectEvent[];
  reply: LedgerReply;
}>;

export function initialLedgerState(): LedgerState {
  return { account: initialAccountState(), project: initialProjectState() };
}

export function evolveLedger(state: LedgerState, event: LedgerEvent): LedgerState {
  switch (event.type) {
    case 'CreditsGranted':
    case 'Debited':
    case 'Refunded':
    case 'CreditsExpired':
    case 'GrantVoided':
      return { ...state, account: evolveAccount(state.account, event) };
    default:
      return { ...state, project: evolveProject(state.project, event) };
  }
}

export function decideLedger(state: LedgerState, command: LedgerCommand): LedgerDecision {
  switch (command.type) {
    case 'GrantCredits':
    case 'DebitCredits':
    case 'VoidGrant':
    case 'ExpireCredits': {
      const decision = decideAccount(state.account, command);
      return { accountId: command.accountId, account: decision.account, project: [], reply: decision.reply };
    }
    case 'StartProject':
      return decideStartProject(state.account, state.project, command);
    case 'ClaimProject':
      return decideClaimProject(state.project, command);
    case 'HeartbeatProject':
      return decideHeartbeatProject(state.project, command);
    case 'CompleteProject':
      return decideCompleteProject(state.account, state.project, command);
    case 'FailProject':
      return decideFailProject(state.account, state.project, command);
    case 'ExpireProject':
      return decideExpireProject(state.account, state.project, command);
    case 'AttachAssets':
      return decideAttachAssets(state.project, command);
    case 'ApplyProviderReport':
      return decideProviderReport(state.account, state.project, command);
  }
}
