import assert from 'node:assert';
import type { LotShare } from '../account/account.events.js';
import type {
  ProjectAssets,
  ProjectCompletedData,
  ProjectEvent,
  ProjectFailedData,
  ProjectStartedData,
} from './project.events.js';

export type ProjectStatus = 'none' | 'pending' | 'processing' | 'completed' | 'failed';

/** What every started project carries. Instants are ISO strings, exactly as in the events. */
type StartedProject = Readonly<{
  accountId: string;
  cost: number;
  kind?: string;
  externalTaskId?: string;
  deadlineAt: string;
  /** What the start asked for, kept to tell a repeated start from a different one. */
  deadlineSeconds?: number;
  metadata?: Record<string, unknown>;
  /** What its debit drew (ProjectStarted's `lots`); absent for a project started before lots. */
  lots?: readonly LotShare[];
  /** The fencing token: 0 before the first claim, then the current claim's number. */
  attempt: number;
  workerId: string | null;
  leaseExpiresAt: string | null;
  creditsUsed: number | null;
  /** Credits given back so far; the refund is appended with the terminal event, so this follows from it. */
  refunded: number;
}>;

export type NoProject = Readonly<{ status: 'none' }>;
export type PendingProject = StartedProject & Readonly<{ status: 'pending' }>;
export type ProcessingProject = StartedProject &
  Readonly<{ status: 'processing'; workerId: string; leaseExpiresAt: string }>;
/**
 * `terminal` is the event that ended the project, kept to recognise the exact repeat of its
 * command; `assets` are its result assets now: those it completed with, then the latest
 * attached (absent while it has none).
 */
export type CompletedProject = StartedProject &
  Readonly<{ status: 'completed'; creditsUsed: number; terminal: ProjectCompletedData; assets?: ProjectAssets }>;
export type FailedProject = StartedProject & Readonly<{ status: 'failed'; terminal: ProjectFailedData }>;

export type ExistingProject = PendingProject | ProcessingProject | CompletedProject | FailedProject;
export type ProjectState = NoProject | ExistingProject;

export function initialProjectState(): ProjectState {
  return { status: 'none' };
}

export function isTerminal(state: ProjectState): state is CompletedProject | FailedProject {
  return state.status === 'completed' || state.status === 'failed';
}

/** Asserts the lifecycle (I3): a failure here is a bug in a decision or a corrupt stream, never bad input. */
export function evolveProject(state: ProjectState, event: ProjectEvent): ProjectState {
  switch (event.type) {
    case 'ProjectStarted':
      assert(state.status === 'none', `ProjectStarted on a ${state.status} project`);
      return started(event.data);
    case 'ProjectClaimed': {
      assert(
        state.status === 'pending' || state.status === 'processing',
        `ProjectClaimed on a ${state.status} project`,
      );
      assert(event.data.attempt === state.attempt + 1, `claim attempt ${event.data.attempt} after ${state.attempt}`);
      const { attempt, workerId, leaseExpiresAt } = event.data;
      return { ...state, status: 'processing', attempt, workerId, leaseExpiresAt };
    }
    case 'LeaseExtended':
      assert(state.status === 'processing', `LeaseExtended on a ${state.status} project`);
      assert(event.data.attempt === state.attempt, `lease of attempt ${event.data.attempt}, current ${state.attempt}`);
      return { ...state, leaseExpiresAt: event.data.leaseExpiresAt };
    case 'ProjectCompleted': {
      // A pending project is completed only by its provider, as attempt 0 (nobody claimed it).
      assert(
        state.status === 'processing' || state.status === 'pending',
        `ProjectCompleted on a ${state.status} project`,
      );
      const { attempt, creditsUsed } = event.data;
      assert(attempt === state.attempt, `completion by attempt ${attempt}, current ${state.attempt}`);
      assert(
        Number.isSafeInteger(creditsUsed) && creditsUsed >= 0 && creditsUsed <= state.cost,
        'creditsUsed out of range',
      );
      const completed: CompletedProject = {
        ...state,
        status: 'completed',
        creditsUsed,
        refunded: state.cost - creditsUsed,
        terminal: event.data,
      };
      return event.data.assets === undefined ? completed : { ...completed, assets: event.data.assets };
    }
    case 'ProjectFailed':
      assert(state.status === 'pending' || state.status === 'processing', `ProjectFailed on a ${state.status} project`);
      return { ...state, status: 'failed', refunded: state.cost, terminal: event.data };
    case 'ProjectAssetsAttached':
      // Not a transition: a completed project stays completed, only its result changes.
      assert(state.status === 'completed', `ProjectAssetsAttached on a ${state.status} project`);
      return { ...state, assets: event.data.assets };
  }
}

function started(data: ProjectStartedData): PendingProject {
  assert(Number.isSafeInteger(data.cost) && data.cost > 0, `project cost ${data.cost} is not a positive safe integer`);
  return {
    status: 'pending',
    accountId: data.accountId,
    cost: data.cost,
    kind: data.kind,
    externalTaskId: data.externalTaskId,
    deadlineAt: data.deadlineAt,
    deadlineSeconds: data.deadlineSeconds,
    metadata: data.metadata,
    ...(data.lots === undefined ? {} : { lots: data.lots }),
    attempt: 0,
    workerId: null,
    leaseExpiresAt: null,
    creditsUsed: null,
    refunded: 0,
  };
}
