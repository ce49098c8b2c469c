import type { AccountEvent } from '../account/account.events.js';
import { decideLedger, evolveLedger, initialLedgerState, type LedgerEvent } from '../ledger.js';
import type {
  ApplyProviderReport,
  AttachAssets,
  ClaimProject,
  CompleteProject,
  ExpireProject,
  FailProject,
  HeartbeatProject,
  StartProject,
} from '../project/project.commands.js';
import type { ProjectAssets, ProjectEvent, ProjectStartedData } from '../project/project.events.js';
import { specification } from './specification.js';

/** Specs for decisions that read one account and one project: given events of both streams. */
export const given = specification({
  initialState: initialLedgerState,
  evolve: evolveLedger,
  decide: decideLedger,
  eventsOf: (decision): readonly LedgerEvent[] => [...decision.account, ...decision.project],
});

/** The specs' clock: instants are seconds after T0. */
export const T0_MS = Date.UTC(2030, 0, 1);
export const at = (seconds: number): Date => new Date(T0_MS + seconds * 1000);
export const iso = (seconds: number): string => at(seconds).toISOString();

export const PROJECT_ID = 'p1';
export const ACCOUNT_ID = 'acc-1';
export const COST = 100;

/** The one lot of the project specs' account: paid, never expiring, the default priority. */
export const GRANT_ID = 'g1';

export const granted = (amount: number): AccountEvent => ({
  type: 'CreditsGranted',
  data: { amount, source: 'purchase', grantId: GRANT_ID, category: 'paid', priority: 50 },
});
export const debited = (amount = COST): AccountEvent => ({
  type: 'Debited',
  data: { amount, projectId: PROJECT_ID, reason: 'project_started', lots: [{ grantId: GRANT_ID, amount }] },
});
export const refunded = (amount: number, reason: 'partial_use' | 'project_failed'): AccountEvent => ({
  type: 'Refunded',
  data: { amount, projectId: PROJECT_ID, reason, lots: [{ grantId: GRANT_ID, amount }] },
});
export const started = (extra: Partial<ProjectStartedData> = {}): ProjectEvent => ({
  type: 'ProjectStarted',
  data: {
    accountId: ACCOUNT_ID,
    cost: COST,
    deadlineAt: iso(3600),
    ...extra,
    lots: extra.lots ?? [{ grantId: GRANT_ID, amount: extra.cost ?? COST }],
  },
});
export const claimed = (attempt: number, workerId: string, leaseUntilSeconds: number): ProjectEvent => ({
  type: 'ProjectClaimed',
  data: { attempt, workerId, leaseExpiresAt: iso(leaseUntilSeconds) },
});
export const extended = (attempt: number, leaseUntilSeconds: number): ProjectEvent => ({
  type: 'LeaseExtended',
  data: { attempt, leaseExpiresAt: iso(leaseUntilSeconds) },
});
export const completed = (attempt: number, creditsUsed = COST, assets?: ProjectAssets): ProjectEvent => ({
  type: 'ProjectCompleted',
  data: { attempt, creditsUsed, ...(assets === undefined ? {} : { assets }) },
});
export const assetsAttached = (assets: ProjectAssets): ProjectEvent => ({
  type: 'ProjectAssetsAttached',
  data: { assets },
});
export const failed = (code: string, errorMessage: string, attempt?: number): ProjectEvent => ({
  type: 'ProjectFailed',
  data: { ...(attempt === undefined ? {} : { attempt }), code, errorMessage },
});

/** A paid, pending project (started at T0 with the default one-hour deadline) on an account of 500. */
export const pendingHistory: readonly LedgerEvent[] = [granted(500), debited(), started()];
/** The same project claimed by worker w1 at T0 until T0 + 30 s. */
export const processingHistory: readonly LedgerEvent[] = [...pendingHistory, claimed(1, 'w1', 30)];

export const start = (extra: Partial<StartProject> = {}): StartProject => ({
  type: 'StartProject',
  projectId: PROJECT_ID,
  accountId: ACCOUNT_ID,
  cost: COST,
  now: at(0),
  ...extra,
});
export const claim = (workerId: string, nowSeconds: number, leaseSeconds = 30): ClaimProject => ({
  type: 'ClaimProject',
  projectId: PROJECT_ID,
  workerId,
  leaseSeconds,
  now: at(nowSeconds),
});
export const heartbeat = (attempt: number, nowSeconds: number, leaseSeconds = 30): HeartbeatProject => ({
  type: 'HeartbeatProject',
  projectId: PROJECT_ID,
  attempt,
  leaseSeconds,
  now: at(nowSeconds),
});
export const complete = (attempt: number, extra: Partial<CompleteProject> = {}): CompleteProject => ({
  type: 'CompleteProject',
  projectId: PROJECT_ID,
  attempt,
  now: at(10),
  ...extra,
});
export const fail = (extra: Partial<FailProject> = {}): FailProject => ({
  type: 'FailProject',
  projectId: PROJECT_ID,
  errorMessage: 'the provider timed out',
  now: at(10),
  ...extra,
});
export const expire = (nowSeconds: number, attemptsMax = 3): ExpireProject => ({
  type: 'ExpireProject',
  projectId: PROJECT_ID,
  attemptsMax,
  now: at(nowSeconds),
});

export const attach = (assets: ProjectAssets, extra: Partial<AttachAssets> = {}): AttachAssets => ({
  type: 'AttachAssets',
  projectId: PROJECT_ID,
  assets,
  now: at(20),
  ...extra,
});
export const report = (
  outcome: ApplyProviderReport['outcome'],
  extra: Partial<ApplyProviderReport> = {},
): ApplyProviderReport => ({
  type: 'ApplyProviderReport',
  projectId: PROJECT_ID,
  outcome,
  now: at(20),
  ...extra,
});

export const badFields = (details: unknown): string[] =>
  (details as { fields: { field: string }[] }).fields.map((problem) => problem.field);
