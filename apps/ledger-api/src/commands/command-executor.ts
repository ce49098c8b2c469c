import { randomInt, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  accountStream,
  projectStream,
  type AccountEvent,
  type AccountState,
  type ProjectEvent,
  type ProjectState,
} from '@ledger/domain';
import { VersionConflictError, type EventStore, type StoredEvent, type StreamAppend } from '@ledger/event-store';
import { ApiError } from '../errors/api-error.js';
import { RuleViolation } from '@ledger/domain';
import { RefusalRecords } from './refusals.js';
import type { Clock } from './clock.js';
import { KeyedSerializer } from './keyed-serializer.js';
import type { LoadedState, StreamStateCache } from './stream-state.cache.js';
import {
  IdempotencyRecords,
  toPositionNumber,
  type CommandContext,
  type CommandOutcome,
  type CommandResponse,
} from './idempotency.js';

/** The streams a decision read, so its events are appended expecting exactly those revisions. */
export class Loads {
  readonly revisions = new Map<string, bigint | undefined>();

  constructor(
    private readonly accounts: StreamStateCache<AccountState>,
    private readonly projects: StreamStateCache<ProjectState>,
    private readonly prefetched: ReadonlyMap<
      string,
      { fromRevision: bigint; limit: number; events: StoredEvent[] }
    > = new Map(),
  ) {}

  async account(accountId: string): Promise<AccountState> {
    const stream = accountStream(accountId);
    return this.track(stream, await this.accounts.load(stream, this.prefetched.get(stream)));
  }

  async project(projectId: string): Promise<ProjectState> {
    const stream = projectStream(projectId);
    return this.track(stream, await this.projects.load(stream, this.prefetched.get(stream)));
  }

  private track<S>(streamName: string, loaded: LoadedState<S>): S {
    this.revisions.set(streamName, loaded.revision);
    return loaded.state;
  }
}

/** What a decision produced: events per stream and the HTTP outcome. */
export interface Decided {
  accountId?: string;
  account?: readonly AccountEvent[];
  projectId?: string;
  project?: readonly ProjectEvent[];
  outcome: CommandOutcome;
}

export interface CommandPlan {
  /** The stream whose commands this process runs one at a time. */
  serializeOn: string;
  /** Streams the decision will load: their tails are read with the idempotency record, in one round trip. */
  reads?: readonly string[];
  decide(loads: Loads, now: Date): Promise<Decided>;
}

// Conflicts left after in-process serialisation come from other replicas.
// Jittered, growing waits settle them; past the bound the caller retries (same key).
const CONFLICT_RETRIES_MAX = 25;
// Commands queued on one stream in this process; past it, 503 rather than unbounded memory and latency.
const QUEUED_PER_STREAM_MAX = 1_000;
const RETRY_DELAY_MS_MAX = 50;

/**
 * Load → decide → append, the same for every command: idempotent by key,
 * serialised per stream in this process, atomic across the streams touched,
 * each at the revision the decision saw, retried on a conflict.
 */
export class CommandExecutor {
  private readonly serializer = new KeyedSerializer(
    QUEUED_PER_STREAM_MAX,
    (stream) =>
      new ApiError(
        503,
        'unavailable',
        `too many commands waiting on ${stream}; retry with the same Idempotency-Key`,
        undefined,
        {
          'retry-after': '1',
        },
      ),
  );
  private readonly idempotency: IdempotencyRecords;

  constructor(
    private readonly store: EventStore,
    private readonly accounts: StreamStateCache<AccountState>,
    private readonly projects: StreamStateCache<ProjectState>,
    private readonly clock: Clock,
    private readonly refusals: RefusalRecords,
    private readonly refusalResponse: (violation: RuleViolation) => { status: number; body: object },
  ) {
    this.idempotency = new IdempotencyRecords(store);
  }

  execute(context: CommandContext, plan: CommandPlan): Promise<CommandResponse> {
    return this.serializer.run(plan.serializeOn, () => this.attempt(context, plan));
  }

  private async attempt(context: CommandContext, plan: CommandPlan): Promise<CommandResponse> {
    for (let attempt = 1; ; attempt++) {
      // The record of an acceptance, the stream tails and a kept refusal, looked up at once.
      const [ahead, refusal] = await Promise.allSettled([
        this.readAhead(context, plan.reads ?? []),
        this.refusals.find(context),
      ]);
      if (ahead.status === 'rejected') throw ahead.reason;
      const { recorded, prefetched } = ahead.value;
      // An acceptance answers even if the refusal lookup failed.
      if (recorded) return recorded;
      if (refusal.status === 'rejected') throw refusal.reason;
      RefusalRecords.answer(refusal.value, context);
      const now = this.clock.now();
      const loads = new Loads(this.accounts, this.projects, prefetched);
      let decided: Decided;
      try {
        decided = await plan.decide(loads, now);
      } catch (error) {
        if (!(error instanceof RuleViolation)) throw error;
        return this.refuse(context, error);
      }
      const metadata = eventMetadata(context, now);
      const streams = this.appendsOf(decided, loads, metadata);
      streams.push({
        streamName: this.idempotency.streamOf(context),
        expectedRevision: 'no_stream',
        events: [this.idempotency.record(context, decided.outcome, metadata)],
      });
      try {
        const result = await this.store.append(streams);
        return {
          status: decided.outcome.status,
          body: { ...decided.outcome.body, position: toPositionNumber(result.position) },
        };
      } catch (error) {
        if (!(error instanceof VersionConflictError)) throw error;
        for (const conflict of error.conflicts) {
          this.accounts.forget(conflict.streamName);
          this.projects.forget(conflict.streamName);
        }
        if (attempt >= CONFLICT_RETRIES_MAX) {
          throw new ApiError(
            409,
            'concurrency_conflict',
            'the streams kept changing; retry with the same Idempotency-Key',
            {
              streams: error.conflicts.map((c) => c.streamName),
            },
          );
        }
        await delay(randomInt(1, Math.min(RETRY_DELAY_MS_MAX, 2 ** attempt) + 1));
      }
    }
  }

  /**
   * The idempotency record and what loading each stream needs first (its tail
   * after the state in memory, or the start of a stream not in memory), in one read of the store.
   */
  private async readAhead(context: CommandContext, streams: readonly string[]) {
    const tails = streams.flatMap((stream) => this.cacheOf(stream)?.tailOf(stream) ?? []);
    const [records, ...pages] = await this.store.readStreams([
      { streamName: this.idempotency.streamOf(context), limit: 1 },
      ...tails,
    ]);
    const prefetched = new Map(
      tails.map((tail, i) => [
        tail.streamName,
        { fromRevision: tail.fromRevision, limit: tail.limit, events: pages[i]! },
      ]),
    );
    return { recorded: this.idempotency.answer(records?.[0], context), prefetched };
  }

  private cacheOf(stream: string): StreamStateCache<AccountState> | StreamStateCache<ProjectState> | undefined {
    if (stream.startsWith('account-')) return this.accounts;
    if (stream.startsWith('project-')) return this.projects;
    return undefined;
  }

  /**
   * A rule violation is the command's answer: kept, so a repeat of the key gets it again.
   * Unless the same key was accepted meanwhile on another replica (this decision may
   * even have seen its events): then that acceptance is the answer, checked again
   * after the refusal is kept so that a late one still wins.
   */
  private async refuse(context: CommandContext, violation: RuleViolation): Promise<CommandResponse> {
    const accepted = await this.idempotency.find(context);
    if (accepted) return accepted;
    const { status, body } = this.refusalResponse(violation);
    await this.refusals.record(context, { status, body: body as Record<string, unknown> });
    const late = await this.idempotency.find(context);
    if (late) {
      await this.refusals.forget(context);
      return late;
    }
    throw violation;
  }

  private appendsOf(decided: Decided, loads: Loads, metadata: Record<string, string>): StreamAppend[] {
    const appends: StreamAppend[] = [];
    const add = (streamName: string, events: readonly { type: string; data: object }[] | undefined) => {
      if (!events || events.length === 0) return;
      // A stream the decision did not read (the account of a refund) is appended with 'any':
      // a refund only adds credits, so no balance it did not see can be broken by it.
      const expectedRevision = loads.revisions.has(streamName)
        ? (loads.revisions.get(streamName) ?? 'no_stream')
        : 'any';
      appends.push({
        streamName,
        expectedRevision,
        events: events.map((e) => ({
          id: randomUUID(),
          type: e.type,
          data: e.data as Record<string, unknown>,
          metadata,
        })),
      });
    };
    if (decided.accountId) add(accountStream(decided.accountId), decided.account);
    if (decided.projectId) add(projectStream(decided.projectId), decided.project);
    return appends;
  }
}

function eventMetadata(context: CommandContext, now: Date): Record<string, string> {
  return {
    commandId: randomUUID(),
    idempotencyKey: context.idempotencyKey,
    correlationId: context.correlationId,
    causationId: context.idempotencyKey,
    caller: context.caller,
    at: now.toISOString(),
  };
}
