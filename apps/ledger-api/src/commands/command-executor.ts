import assert from 'node:assert';
import { randomInt, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { RuleViolation, accountStream, apiKeyStream, projectStream } from '@ledger/domain';
import { VersionConflictError, type EventStore, type StreamAppend } from '@ledger/event-store';
import { crashPoint } from '@ledger/platform';
import { ApiError } from '../errors/api-error.js';
import type { Clock } from './clock.js';
import type { CommandHandler, Decision, StreamKind, StreamStates } from './command-handler.js';
import { IdempotencyRecords, type Answer, type CommandContext, type RecordedAnswer } from './idempotency.js';
import { KeyedSerializer } from './keyed-serializer.js';
import { RefusalRecords } from './refusals.js';
import type { LoadedState, StreamStateCache } from './stream-state.cache.js';

/**
 * What a command came to: the answer its caller gets and the position of its last
 * event. A repeat of an accepted key is `replayed`: the recorded answer, nothing
 * decided or appended. Otherwise the decision, whose events the append wrote.
 */
export type CommandResult<Reply> = RecordedAnswer &
  ({ replayed: true } | { replayed: false; decision: Decision<Reply> });

/** The state cache of each kind of stream. */
export type StateCaches = { readonly [K in StreamKind]: StreamStateCache<StreamStates[K]> };

/** A stream a command reads: its kind says which cache folds it. */
interface StreamRead {
  kind: StreamKind;
  name: string;
}

type Prefetched = Parameters<StreamStateCache<unknown>['load']>[1];

const STREAM_NAME: Record<StreamKind, (id: string) => string> = {
  account: accountStream,
  project: projectStream,
  apiKey: apiKeyStream,
};
const KINDS: readonly StreamKind[] = ['account', 'project', 'apiKey'];

// Conflicts left after in-process serialisation come from other replicas.
// Jittered, growing waits settle them; past the bound the caller retries (same key).
const CONFLICT_RETRIES_MAX = 25;
// Commands queued on one stream in this process; past it, 503 rather than unbounded memory and latency.
const QUEUED_PER_STREAM_MAX = 1_000;
const RETRY_DELAY_MS_MAX = 50;

/**
 * Load → decide → append, the same for every command: idempotent by key,
 * serialised per stream in this process, atomic across the streams touched,
 * each at the revision the decision saw, retried on a conflict. Two round trips
 * a command: the idempotency record read with the streams' tails, then the append.
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
    private readonly caches: StateCaches,
    private readonly clock: Clock,
    private readonly refusals: RefusalRecords,
    /** A rule violation's answer, as kept for repeats: the exception filter's, so both say the same. */
    private readonly refusalAnswerOf: (violation: RuleViolation) => Answer,
  ) {
    this.idempotency = new IdempotencyRecords(store);
  }

  /**
   * Runs `command` through its handler under the caller's key. `answerOf` is the answer
   * an acceptance gives (the caller's mapping of the reply), recorded with the events.
   */
  execute<Command, Kind extends StreamKind, Reply>(
    context: CommandContext,
    handler: CommandHandler<Command, Kind, Reply>,
    command: NoInfer<Command>,
    answerOf: (reply: Reply) => Answer,
  ): Promise<CommandResult<Reply>> {
    const declared: Readonly<Partial<Record<StreamKind, string>>> = handler.streams(command);
    const reads = KINDS.flatMap((kind) => {
      const id = declared[kind];
      return id === undefined ? [] : [{ kind, name: STREAM_NAME[kind](id) }];
    });
    assert(reads.length > 0, 'a command reads at least one stream');
    // The states are those of exactly the streams declared, so they are the handler's.
    const decide = (states: Partial<StreamStates>, now: Date) =>
      handler.decide(states as Pick<StreamStates, Kind>, command, now);
    const payerOf =
      handler.payer && ((states: Partial<StreamStates>) => handler.payer!(states as Pick<StreamStates, Kind>));
    // A command that reads an account runs one at a time with the others on it: its balance
    // is what they contend for (a start spends it). Any other, with those on its project.
    const serializeOn = (reads.find((read) => read.kind === 'account') ?? reads[0]!).name;
    if (!payerOf)
      return this.serializer.run(serializeOn, () => this.attempt(context, reads, decide, answerOf).then(decided));
    // One that may refund also writes to the project's payer, so it runs in the payer's queue
    // too, after the project's: keys are always taken project then account, and nothing takes
    // a project's queue from an account's, so no two commands wait on each other. Only
    // other replicas' commands still conflict (the bounded retry settles those).
    return this.serializer.run(serializeOn, async () => {
      const known = this.cachedPayer(reads, payerOf);
      if (known !== undefined) return this.onPayer(known, context, reads, decide, answerOf, payerOf);
      // A project not in memory names its payer only once read: read it (with the record, which
      // may answer at once), then decide again in the payer's queue.
      const first = await this.attempt(context, reads, decide, answerOf, payerOf, undefined);
      if (!('payerToQueueOn' in first)) return first;
      return this.onPayer(first.payerToQueueOn, context, reads, decide, answerOf, payerOf);
    });
  }

  /** Decides in `payer`'s account queue, reading the account ahead with the rest. */
  private onPayer<Reply>(
    payer: string,
    context: CommandContext,
    reads: readonly StreamRead[],
    decide: (states: Partial<StreamStates>, now: Date) => Decision<Reply>,
    answerOf: (reply: Reply) => Answer,
    payerOf: (states: Partial<StreamStates>) => string | undefined,
  ): Promise<CommandResult<Reply>> {
    // A project's payer never changes, so the one it names is the one held.
    return this.serializer.run(accountStream(payer), () =>
      this.attempt(context, reads, decide, answerOf, payerOf, payer).then(decided),
    );
  }

  private async attempt<Reply>(
    context: CommandContext,
    reads: readonly StreamRead[],
    decide: (states: Partial<StreamStates>, now: Date) => Decision<Reply>,
    answerOf: (reply: Reply) => Answer,
    payerOf?: (states: Partial<StreamStates>) => string | undefined,
    held?: string,
  ): Promise<CommandResult<Reply> | { payerToQueueOn: string }> {
    for (let attempt = 1; ; attempt++) {
      // The payer whose queue this runs in (a project's payer never changes) is read ahead with the rest.
      const readsAhead: readonly StreamRead[] =
        held === undefined ? reads : [...reads, { kind: 'account', name: accountStream(held) }];
      // The record of an acceptance, the stream tails and a kept refusal, looked up at once.
      const [ahead, refusal] = await Promise.allSettled([
        this.readAhead(context, readsAhead),
        this.refusals.find(context),
      ]);
      if (ahead.status === 'rejected') throw ahead.reason;
      const { accepted, prefetched } = ahead.value;
      crashPoint('command.after-read-ahead');
      // An acceptance answers even if the refusal lookup failed.
      if (accepted) return { ...accepted, replayed: true };
      if (refusal.status === 'rejected') throw refusal.reason;
      const kept = RefusalRecords.refusalOf(refusal.value, context);
      if (kept) throw kept;
      const now = this.clock.now();
      const loaded = await this.load(reads, prefetched);
      const states: Partial<StreamStates> = Object.fromEntries(
        reads.map((read) => [read.kind, loaded.get(read.name)!.state]),
      );
      const payer = payerOf?.(states);
      // Learnt only now: decided in its queue, not here.
      if (payer !== undefined && payer !== held) return { payerToQueueOn: payer };
      if (payer !== undefined) {
        // Kept in `loaded` too, so the append expects the revision this decision saw.
        const name = accountStream(payer);
        const account = await this.caches.account.load(name, prefetched.get(name));
        loaded.set(name, account);
        states.account = account.state;
      }
      let decision: Decision<Reply>;
      try {
        decision = decide(states, now);
      } catch (error) {
        if (!(error instanceof RuleViolation)) throw error;
        return this.refuse(context, error);
      }
      const answer = answerOf(decision.reply);
      const metadata = eventMetadata(context, now);
      const writes = appendsOf(decision, reads, loaded, metadata);
      // Folded on the states decided on before they are stored: a decision that breaks an
      // invariant (a domain bug) fails here, instead of every later fold of its streams.
      for (const { kind, append } of writes) {
        const state = loaded.get(append.streamName);
        if (state) (this.caches[kind] as StreamStateCache<unknown>).evolve(state.state, append.events);
      }
      const appends = writes.map(({ append }) => append);
      appends.push({
        streamName: this.idempotency.streamOf(context),
        expectedRevision: 'no_stream',
        events: [this.idempotency.record(context, answer, metadata)],
      });
      crashPoint('command.after-decision');
      try {
        const { position } = await this.store.append(appends);
        crashPoint('command.after-append');
        return { replayed: false, decision, answer, position };
      } catch (error) {
        if (!(error instanceof VersionConflictError)) throw error;
        for (const conflict of error.conflicts) for (const kind of KINDS) this.caches[kind].forget(conflict.streamName);
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

  /** The payer the states in memory name, if every stream the command reads is in memory. */
  private cachedPayer(
    reads: readonly StreamRead[],
    payerOf: (states: Partial<StreamStates>) => string | undefined,
  ): string | undefined {
    const states: Partial<Record<StreamKind, unknown>> = {};
    for (const read of reads) {
      const state = this.caches[read.kind].peek(read.name);
      if (state === undefined) return undefined;
      states[read.kind] = state;
    }
    return payerOf(states as Partial<StreamStates>);
  }

  /**
   * The idempotency record and what loading each stream needs first (its tail
   * after the state in memory, or the start of a stream not in memory), in one read of the store.
   */
  private async readAhead(context: CommandContext, reads: readonly StreamRead[]) {
    const tails = reads.map((read) => this.caches[read.kind].tailOf(read.name));
    const [records, ...pages] = await this.store.readStreams([
      { streamName: this.idempotency.streamOf(context), limit: 1 },
      ...tails,
    ]);
    const prefetched = new Map<string, Prefetched>(
      tails.map((tail, i) => [
        tail.streamName,
        { fromRevision: tail.fromRevision, limit: tail.limit, events: pages[i]! },
      ]),
    );
    return { accepted: this.idempotency.acceptanceOf(records?.[0], context), prefetched };
  }

  /** Each stream's state and revision, folded on from what was read ahead. */
  private async load(
    reads: readonly StreamRead[],
    prefetched: ReadonlyMap<string, Prefetched>,
  ): Promise<Map<string, LoadedState<unknown>>> {
    const states = await Promise.all(
      reads.map((read) => this.caches[read.kind].load(read.name, prefetched.get(read.name))),
    );
    return new Map(reads.map((read, i) => [read.name, states[i]!]));
  }

  /**
   * A rule violation is the command's answer: kept, so a repeat of the key gets it again.
   * Unless the same key was accepted meanwhile on another replica (this decision may
   * even have seen its events): then that acceptance is the answer, checked again
   * after the refusal is kept so that a late one still wins.
   */
  private async refuse<Reply>(context: CommandContext, violation: RuleViolation): Promise<CommandResult<Reply>> {
    const accepted = await this.idempotency.find(context);
    if (accepted) return { ...accepted, replayed: true };
    await this.refusals.record(context, this.refusalAnswerOf(violation));
    const late = await this.idempotency.find(context);
    if (late) {
      await this.refusals.forget(context);
      return { ...late, replayed: true };
    }
    throw violation;
  }
}

/**
 * The decision's events by stream, each expecting the revision its state was loaded at.
 * A refund's payer is read (its lots decide what comes back spendable), so it is fenced
 * too; a stream the decision did not read would be appended with 'any'.
 */
function appendsOf(
  decision: Decision<unknown>,
  reads: readonly StreamRead[],
  loaded: ReadonlyMap<string, LoadedState<unknown>>,
  metadata: Record<string, string>,
): { kind: StreamKind; append: StreamAppend }[] {
  const read = (kind: StreamKind) => reads.find((r) => r.kind === kind)?.name;
  const targets = [
    {
      kind: 'account' as const,
      streamName: decision.accountId === undefined ? read('account') : accountStream(decision.accountId),
      events: decision.account,
    },
    { kind: 'project' as const, streamName: read('project'), events: decision.project },
    { kind: 'apiKey' as const, streamName: read('apiKey'), events: decision.apiKey },
  ];
  return targets.flatMap(({ kind, streamName, events }) => {
    if (!events || events.length === 0) return [];
    assert(streamName !== undefined, 'a decision appends only to streams its command names');
    const state = loaded.get(streamName);
    return [
      {
        kind,
        append: {
          streamName,
          expectedRevision: state ? (state.revision ?? 'no_stream') : 'any',
          events: events.map((e) => ({
            id: randomUUID(),
            type: e.type,
            data: e.data as Record<string, unknown>,
            metadata,
          })),
        },
      },
    ];
  });
}

/** The result of an attempt that had no payer left to queue on. */
function decided<Reply>(result: CommandResult<Reply> | { payerToQueueOn: string }): CommandResult<Reply> {
  assert(!('payerToQueueOn' in result), "an attempt in its payer's queue decides");
  return result;
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
