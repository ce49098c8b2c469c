import assert from 'node:assert';
import { randomInt, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  RuleViolation,
  accountSettingsStream,
  accountStream,
  apiKeyStream,
  projectStream,
  webhookEndpointStream,
  type ProjectState,
} from '@ledger/domain';
import {
  StoreUnavailableError,
  VersionConflictError,
  type EventStore,
  type AppendResult,
  type EventToAppend,
  type StoredEvent,
  type StreamAppend,
} from '@ledger/event-store';
import { crashPoint } from '@ledger/platform';
import { ApiError } from '../errors/api-error.js';
import type { Clock } from './clock.js';
import type { CommandHandler, Decision, StreamKind, StreamStates } from './command-handler.js';
import { IdempotencyRecords, type Answer, type CommandContext, type RecordedAnswer } from './idempotency.js';
import { KeyedBatcher, KeyedSerializer, type BatchOutcome } from './keyed-serializer.js';
import { lockSessionLost, requestInFlight, type KeyClaim, type KeyLocks } from './key-locks.js';
import { RefusalRecords, type RefusalRow } from './refusals.js';
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

export interface CommandExecutorOptions {
  /** Commands of one stream's queue decided together and appended in one append (default 64). */
  batchMax?: number;
  /** Called with the number of commands of each batch, as it is decided (metrics, tests). */
  onBatch?: (size: number) => void;
}

/** A stream a command reads: its kind says which cache folds it. */
interface StreamRead {
  kind: StreamKind;
  name: string;
}

type Prefetched = Parameters<StreamStateCache<unknown>['load']>[1];

/** One command waiting in a stream's queue. */
interface Pending {
  context: CommandContext;
  reads: readonly StreamRead[];
  decide: (states: Partial<StreamStates>, now: Date) => Decision<unknown>;
  answerOf: (reply: unknown) => Answer;
  /** The account a refund goes back to, once the streams read name it. */
  payerOf?: (states: Partial<StreamStates>) => string | undefined;
  /** The payer whose account queue this waits in (read ahead with the rest). */
  held?: string;
}

type Outcome = CommandResult<unknown> | { payerToQueueOn: string };

/** A stream as a batch sees it: loaded once, then moved on by each decision the batch accepts. */
interface Working {
  kind: StreamKind;
  loaded: LoadedState<unknown>;
  state: unknown;
  events: EventToAppend[];
}

/** An accepted command of a batch: its events are in the append, with its idempotency record. */
interface Accepted {
  index: number;
  decision: Decision<unknown>;
  answer: Answer;
  record: StreamAppend;
}

const STREAM_NAME: Record<StreamKind, (id: string) => string> = {
  account: accountStream,
  project: projectStream,
  apiKey: apiKeyStream,
  webhookEndpoint: webhookEndpointStream,
  accountSettings: accountSettingsStream,
};
const KINDS: readonly StreamKind[] = ['account', 'project', 'apiKey', 'webhookEndpoint', 'accountSettings'];

// Conflicts left after in-process queueing come from other replicas.
// Jittered, growing waits settle them; past the bound the caller retries (same key).
const CONFLICT_RETRIES_MAX = 25;
// Commands queued on one stream in this process; past it, 503 rather than unbounded memory and latency.
const QUEUED_PER_STREAM_MAX = 1_000;
const RETRY_DELAY_MS_MAX = 50;
// A batch: at most this many commands, and events in its append (the store takes up to 1,000).
const BATCH_COMMANDS_MAX = 64;
const BATCH_EVENTS_MAX = 500;

function tooManyWaiting(stream: string): ApiError {
  return new ApiError(
    503,
    'unavailable',
    `too many commands waiting on ${stream}; retry with the same Idempotency-Key`,
    undefined,
    { 'retry-after': '1' },
  );
}

/**
 * Load → decide → append, the same for every command: idempotent by key, queued
 * per stream in this process, atomic across the streams touched, each at the
 * revision the decision saw, retried on a conflict. The commands waiting behind
 * one stream go as a batch: decided one after another on the states the ones
 * before them left, in arrival order, and the accepted ones appended in one
 * atomic append, each with its own idempotency record. Two round trips a batch:
 * the records read with the streams' tails, then the append.
 */
export class CommandExecutor {
  // Holds a project while a command on it decides (in its payer's account queue, for one that may refund).
  private readonly serializer = new KeyedSerializer(QUEUED_PER_STREAM_MAX, tooManyWaiting);
  private readonly batcher: KeyedBatcher<Pending, Outcome>;
  private readonly idempotency: IdempotencyRecords;

  constructor(
    private readonly store: EventStore,
    private readonly caches: StateCaches,
    private readonly clock: Clock,
    private readonly refusals: RefusalRecords,
    /** Each command's key, held across replicas from before its batch is decided until its answer is stored. */
    private readonly keyLocks: KeyLocks,
    /** A rule violation's answer, as kept for repeats: the exception filter's, so both say the same. */
    private readonly refusalAnswerOf: (violation: RuleViolation, context: CommandContext) => Answer,
    private readonly options: CommandExecutorOptions = {},
  ) {
    this.idempotency = new IdempotencyRecords(store);
    this.batcher = new KeyedBatcher((_stream, items) => this.decideBatch(items), {
      batchMax: Math.max(1, options.batchMax ?? BATCH_COMMANDS_MAX),
      queuedMax: QUEUED_PER_STREAM_MAX,
      onFull: tooManyWaiting,
      // One key twice in a batch would append its record twice: the second starts the next
      // batch, and finds there the first one's record or kept refusal, as it would alone.
      joinKeyOf: (item) => this.idempotency.streamOf(item.context),
    });
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
    const pending: Pending = {
      context,
      reads,
      // The states are those of exactly the streams declared, so they are the handler's.
      decide: (states, now) => handler.decide(states as Pick<StreamStates, Kind>, command, now),
      answerOf: answerOf as (reply: unknown) => Answer,
    };
    if (handler.payer) {
      const payer = handler.payer;
      pending.payerOf = (states) => payer(states as Pick<StreamStates, Kind>);
    }
    const first = reads[0]!;
    let result: Promise<CommandResult<unknown>>;
    if (pending.payerOf) result = this.serializer.run(first.name, () => this.onPayer(pending));
    else if (!reads.some((read) => read.kind === 'account') && first.kind === 'project') {
      // With the other commands of its project (claim, heartbeat), which it holds as refunds do.
      result = this.serializer.run(first.name, () => this.batcher.submit(first.name, pending).then(decided));
    } else {
      // A command that reads an account queues with the others on it: its balance is what
      // they contend for (a start spends it).
      const on = (reads.find((read) => read.kind === 'account') ?? first).name;
      result = this.batcher.submit(on, pending).then(decided);
    }
    return result as Promise<CommandResult<Reply>>;
  }

  /**
   * One that may refund also writes to its project's payer, so, holding its project, it
   * waits in the payer's account queue: keys are always taken project then account, and
   * nothing takes a project from an account's queue, so no two commands wait on each other.
   * Only other replicas' commands still conflict (the bounded retry settles those).
   */
  private async onPayer(pending: Pending): Promise<CommandResult<unknown>> {
    const project = pending.reads[0]!;
    let payer = this.cachedPayer(pending);
    if (payer === undefined) {
      // A project not in memory names its payer only once read: read with the key's record,
      // which may answer at once.
      const ahead = await this.readAhead([pending.context], [project]);
      const accepted = this.idempotency.acceptanceOf(ahead.records[0], pending.context);
      if (accepted) return { ...accepted, replayed: true };
      const loaded = await this.caches.project.load(project.name, ahead.prefetched.get(project.name));
      payer = pending.payerOf!({ project: loaded.state as ProjectState });
    }
    for (;;) {
      // A project that does not exist has no payer: decided (refused) in its own queue.
      const held: Pending = payer === undefined ? pending : { ...pending, held: payer };
      const outcome = await this.batcher.submit(payer === undefined ? project.name : accountStream(payer), held);
      if (!('payerToQueueOn' in outcome)) return outcome;
      // Started meanwhile; a project's payer never changes, so the one it names now is the one.
      payer = outcome.payerToQueueOn;
    }
  }

  /**
   * Decides the commands waiting in one stream's queue, in arrival order, each on the
   * states the ones before it left, and appends the accepted ones in one append. Each
   * gets the answer it would have had alone: a repeat of a key answers with its record,
   * a refusal is kept and appends nothing, and a conflict with another replica decides
   * the batch again on what that replica wrote.
   */
  private async decideBatch(items: readonly Pending[]): Promise<BatchOutcome<Outcome>[]> {
    this.options.onBatch?.(items.length);
    // Each command's key, claimed by the first attempt and let go once the batch is answered.
    const claims: (KeyClaim | undefined)[] = items.map(() => undefined);
    // The claims sent, each settled once its claims are recorded in `claims`.
    const claiming: Promise<unknown>[] = [];
    try {
      return await this.decideClaimed(items, claims, claiming);
    } finally {
      // Whatever ended the batch, even a failure that came before the claims' answer (the read
      // beside them failed): each key taken is let go once its claim has settled, never before
      // (a lock taken after its release was decided would be held until the session ends).
      void Promise.allSettled(claiming).then(() =>
        this.keyLocks.release(claims.filter((claim) => claim !== undefined)),
      );
    }
  }

  private async decideClaimed(
    items: readonly Pending[],
    claims: (KeyClaim | undefined)[],
    claiming: Promise<unknown>[],
  ): Promise<BatchOutcome<Outcome>[]> {
    const outcomes: (BatchOutcome<Outcome> | undefined)[] = items.map(() => undefined);
    // After an append failed for a reason of its own (not a conflict), one acceptance an append.
    let oneByOne = false;
    for (let attempt = 1; ; attempt++) {
      const open = items.flatMap((_, i) => (outcomes[i] === undefined ? [i] : []));
      if (open.length === 0) return outcomes as BatchOutcome<Outcome>[];
      // Each command's idempotency record and kept refusal, and the streams' tails, looked up at once.
      // The first attempt claims the keys in the statement that looks the refusals up: the read
      // of the records may be older than the lock, which is safe (see claimKeys).
      const reads = uniqueReads(open.flatMap((i) => readsOf(items[i]!)));
      const [ahead, kept] = await Promise.all([
        this.readAhead(
          open.map((i) => items[i]!.context),
          reads,
        ),
        attempt === 1
          ? this.claimKeys(items, open, claims, claiming)
          : Promise.allSettled(open.map((i) => this.refusals.find(items[i]!.context))),
      ]);
      crashPoint('command.after-read-ahead');
      const { working, unloadable } = await this.load(reads, ahead.prefetched);
      const now = this.clock.now();
      const accepted: Accepted[] = [];
      // A refusal decided after an acceptance saw its events: it stands only once they are stored.
      const refused: { index: number; violation: RuleViolation; afterAccepted: boolean }[] = [];
      const unread = new Map<string, EventToAppend[]>();
      let events = 0;
      for (const [k, index] of open.entries()) {
        const item = items[index]!;
        const recorded = this.recordedOutcome(item.context, ahead.records[k], kept[k]!);
        if (recorded) {
          outcomes[index] = recorded;
          continue;
        }
        // Not answered yet, and another replica runs the same key: its answer is to come.
        if (claims[index]?.held === false) {
          outcomes[index] = { ok: false, error: requestInFlight() };
          continue;
        }
        // A stream of its own that could not be loaded fails this command, not the batch.
        const unloaded = readsOf(item).find((read) => unloadable.has(read.name));
        if (unloaded) {
          outcomes[index] = { ok: false, error: unloadable.get(unloaded.name) };
          continue;
        }
        if (oneByOne && accepted.length > 0) {
          outcomes[index] = { deferred: true };
          continue;
        }
        const states: Partial<StreamStates> = Object.fromEntries(
          item.reads.map((read) => [read.kind, working.get(read.name)!.state]),
        );
        const payer = item.payerOf?.(states);
        // Learnt only now: decided in its payer's queue, not here.
        if (payer !== undefined && payer !== item.held) {
          outcomes[index] = { ok: true, value: { payerToQueueOn: payer } };
          continue;
        }
        if (payer !== undefined) states.account = working.get(accountStream(payer))!.state as StreamStates['account'];
        let decision: Decision<unknown>;
        let answer: Answer;
        let writes: { streamName: string; events: EventToAppend[] }[];
        const evolved = new Map<string, unknown>();
        const metadata = eventMetadata(item.context, now);
        try {
          decision = item.decide(states, now);
          answer = item.answerOf(decision.reply);
          writes = writesOf(decision, item.reads, metadata);
          // Folded on the states decided on before they are stored: a decision that breaks an
          // invariant (a domain bug) fails here, instead of every later fold of its streams.
          for (const write of writes) {
            const stream = working.get(write.streamName);
            if (stream) {
              const cache = this.caches[stream.kind] as StreamStateCache<unknown>;
              evolved.set(write.streamName, cache.evolve(stream.state, write.events));
            }
          }
        } catch (error) {
          if (error instanceof RuleViolation) {
            refused.push({ index, violation: error, afterAccepted: accepted.length > 0 });
          } else outcomes[index] = { ok: false, error };
          continue;
        }
        const size = writes.reduce((n, write) => n + write.events.length, 1);
        if (accepted.length > 0 && events + size > BATCH_EVENTS_MAX) {
          // Full: this one and every later one go first in the next batch, in their order.
          for (const later of open.slice(k)) outcomes[later] ??= { deferred: true };
          break;
        }
        events += size;
        for (const write of writes) {
          const stream = working.get(write.streamName);
          if (stream) {
            stream.state = evolved.get(write.streamName);
            stream.events.push(...write.events);
          } else unread.set(write.streamName, [...(unread.get(write.streamName) ?? []), ...write.events]);
        }
        accepted.push({
          index,
          decision,
          answer,
          record: {
            streamName: this.idempotency.streamOf(item.context),
            expectedRevision: 'no_stream',
            events: [this.idempotency.record(item.context, answer, metadata)],
          },
        });
      }

      if (accepted.length > 0) {
        const appends: StreamAppend[] = [];
        // Accounts first, then projects and keys (the order of a decision's streams), each in the batch's order.
        const byKind = [...working].sort(([, a], [, b]) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind));
        for (const [streamName, stream] of byKind) {
          if (stream.events.length === 0) continue;
          appends.push({ streamName, expectedRevision: stream.loaded.revision ?? 'no_stream', events: stream.events });
        }
        // A stream written without being read (none of today's handlers) is appended with 'any'.
        for (const [streamName, written] of unread)
          appends.push({ streamName, expectedRevision: 'any', events: written });
        // The records last: each command's position, its record's, is past all the batch's events.
        for (const { record } of accepted) appends.push(record);
        crashPoint('command.after-decision');
        let result: AppendResult;
        try {
          // A lock session lost (the database restarted) took the keys' locks: nothing is appended
          // without them, the callers retry with the same keys (503).
          if (accepted.some(({ index }) => !this.keyLocks.stillHeld(claims[index]!))) {
            throw lockSessionLost();
          }
          result = await this.store.append(appends);
          crashPoint('command.after-append');
        } catch (error) {
          // Refusals that saw none of this append's events stand; the others are decided again.
          // One whose lock went with a lost session is not kept (503: see refuse).
          await this.settleRefusals(
            items,
            claims,
            refused.filter((r) => !r.afterAccepted),
            outcomes,
          );
          if (!(error instanceof VersionConflictError)) {
            if (accepted.length > 1 && !(error instanceof StoreUnavailableError)) {
              // One of them may be what the store refused: each goes on its own, to get its own answer.
              oneByOne = true;
              continue;
            }
            for (const { index } of accepted) outcomes[index] = { ok: false, error };
            for (const { index } of refused) outcomes[index] ??= { deferred: true };
            continue;
          }
          for (const conflict of error.conflicts)
            for (const kind of KINDS) this.caches[kind].forget(conflict.streamName);
          if (attempt >= CONFLICT_RETRIES_MAX) {
            const tooMany = new ApiError(
              409,
              'concurrency_conflict',
              'the streams kept changing; retry with the same Idempotency-Key',
              { streams: error.conflicts.map((c) => c.streamName) },
            );
            for (const { index } of accepted) outcomes[index] = { ok: false, error: tooMany };
            for (const { index } of refused) outcomes[index] ??= { deferred: true };
            continue;
          }
          await delay(randomInt(1, Math.min(RETRY_DELAY_MS_MAX, 2 ** attempt) + 1));
          continue;
        }
        // Committed: nothing from here on may send the batch back to be decided again.
        const positions = new Map(result.streams.map((s) => [s.streamName, s]));
        // The states decided on, moved on by the events just stored: nothing to read back.
        for (const [streamName, stream] of working) {
          const appended = positions.get(streamName);
          if (stream.events.length === 0 || !appended) continue;
          (this.caches[stream.kind] as StreamStateCache<unknown>).advance(streamName, {
            state: stream.state,
            revision: appended.nextRevision,
            lastPosition: appended.lastPosition ?? result.position,
            lastEventAt: now.toISOString(),
          });
        }
        const recordPositions = await this.recordPositions(accepted, positions, result.position);
        for (const [i, { index, decision, answer }] of accepted.entries()) {
          const position = recordPositions[i]!;
          outcomes[index] = { ok: true, value: { replayed: false, decision, answer, position } };
        }
      }
      await this.settleRefusals(items, claims, refused, outcomes);
    }
  }

  /**
   * Each accepted command's position: its record's, as the store answered it. A store that
   * answers only the append's position (KurrentDB) has it for a lone command (its record is
   * the append's last event); in a batch of several, the records are read back, so that the
   * first answer and every repeat's carry the same position. The append is committed: if
   * that read fails, each answers with the append's position instead (past its events too,
   * though a repeat of the key then answers with its record's, a little earlier).
   */
  private async recordPositions(
    accepted: readonly { record: StreamAppend }[],
    appended: ReadonlyMap<string, { lastPosition?: bigint }>,
    position: bigint,
  ): Promise<bigint[]> {
    const known = accepted.map(({ record }) => appended.get(record.streamName)?.lastPosition);
    if (accepted.length === 1 || known.every((p) => p !== undefined)) return known.map((p) => p ?? position);
    let pages: StoredEvent[][];
    try {
      pages = await this.store.readStreams(accepted.map(({ record }) => ({ streamName: record.streamName, limit: 1 })));
    } catch {
      return known.map((p) => p ?? position);
    }
    return pages.map((page, i) => known[i] ?? page[0]?.position ?? position);
  }

  /**
   * Claims the keys of the open commands (all of the batch's, on its first attempt): each
   * claim is its command's kept refusal, looked up after its lock was taken. A claim that
   * fails (the database is down) fails its command as the refusal lookup did.
   *
   * Why the records may be read beside the claim, not after it: a key this replica now
   * holds was, before, either never decided or answered for good by its last holder. Kept
   * refused: the claim reads that refusal (after the lock). Accepted: its record is either
   * in the read, or not yet, and then neither are its events, so this batch decides on
   * states from before it, and its append (the key's record expects no stream) conflicts,
   * and the next attempt reads the record; a refusal decided on those states looks for the
   * acceptance again before it is kept (`refuse`).
   */
  private async claimKeys(
    items: readonly Pending[],
    open: readonly number[],
    claims: (KeyClaim | undefined)[],
    claiming: Promise<unknown>[],
  ): Promise<PromiseSettledResult<RefusalRow | undefined>[]> {
    // Recorded as they settle, whether or not this batch still waits for them (see decideBatch).
    const settling = Promise.allSettled(open.map((i) => this.keyLocks.claim(items[i]!.context))).then((settled) =>
      settled.map((result, k): PromiseSettledResult<RefusalRow | undefined> => {
        if (result.status === 'rejected') return result;
        claims[open[k]!] = result.value;
        return { status: 'fulfilled', value: result.value.refusal };
      }),
    );
    claiming.push(settling);
    return settling;
  }

  /** An accepted key's record, or a kept refusal: the answer, with nothing decided. */
  private recordedOutcome(
    context: CommandContext,
    record: StoredEvent | undefined,
    kept: PromiseSettledResult<Awaited<ReturnType<RefusalRecords['find']>>>,
  ): BatchOutcome<Outcome> | undefined {
    try {
      // An acceptance answers even if the refusal lookup failed.
      const accepted = this.idempotency.acceptanceOf(record, context);
      if (accepted) return { ok: true, value: { ...accepted, replayed: true } };
      if (kept.status === 'rejected') return { ok: false, error: kept.reason };
      const refusal = RefusalRecords.refusalOf(kept.value, context);
      return refusal && { ok: false, error: refusal };
    } catch (error) {
      return { ok: false, error };
    }
  }

  /** Keeps each refusal and answers with it (a batch holds a key once, so they are independent). */
  private async settleRefusals(
    items: readonly Pending[],
    claims: readonly (KeyClaim | undefined)[],
    refused: readonly { index: number; violation: RuleViolation }[],
    outcomes: (BatchOutcome<Outcome> | undefined)[],
  ): Promise<void> {
    await Promise.all(
      refused.map(async ({ index, violation }) => {
        try {
          outcomes[index] = { ok: true, value: await this.refuse(items[index]!.context, violation, claims[index]!) };
        } catch (error) {
          outcomes[index] = { ok: false, error };
        }
      }),
    );
  }

  /** The payer the states in memory name, if every stream the command reads is in memory. */
  private cachedPayer(pending: Pending): string | undefined {
    const states: Partial<Record<StreamKind, unknown>> = {};
    for (const read of pending.reads) {
      const state = this.caches[read.kind].peek(read.name);
      if (state === undefined) return undefined;
      states[read.kind] = state;
    }
    return pending.payerOf!(states as Partial<StreamStates>);
  }

  /**
   * The idempotency records of the commands and what loading each stream needs first
   * (its tail after the state in memory, or the start of a stream not in memory), in
   * one read of the store.
   */
  private async readAhead(contexts: readonly CommandContext[], reads: readonly StreamRead[]) {
    const tails = reads.map((read) => this.caches[read.kind].tailOf(read.name));
    const pages = await this.store.readStreams([
      ...contexts.map((context) => ({ streamName: this.idempotency.streamOf(context), limit: 1 })),
      ...tails,
    ]);
    const prefetched = new Map<string, Prefetched>(
      tails.map((tail, i) => [
        tail.streamName,
        { fromRevision: tail.fromRevision, limit: tail.limit, events: pages[contexts.length + i]! },
      ]),
    );
    return { records: contexts.map((_, i) => pages[i]?.[0]), prefetched };
  }

  /**
   * Each stream's state and revision, folded on from what was read ahead. A stream that
   * fails to load (its fold refuses a stored event, its snapshot can't be read) is set
   * apart with its error: only the commands that read it fail with it.
   */
  private async load(
    reads: readonly StreamRead[],
    prefetched: ReadonlyMap<string, Prefetched>,
  ): Promise<{ working: Map<string, Working>; unloadable: Map<string, unknown> }> {
    const states = await Promise.allSettled(
      reads.map((read) => this.caches[read.kind].load(read.name, prefetched.get(read.name))),
    );
    const working = new Map<string, Working>();
    const unloadable = new Map<string, unknown>();
    for (const [i, read] of reads.entries()) {
      const loaded = states[i]!;
      if (loaded.status === 'rejected') unloadable.set(read.name, loaded.reason);
      else working.set(read.name, { kind: read.kind, loaded: loaded.value, state: loaded.value.state, events: [] });
    }
    return { working, unloadable };
  }

  /**
   * A rule violation is the command's answer: kept, so a repeat of the key gets it again.
   * Unless the same key was accepted meanwhile on another replica (this decision may
   * even have seen its events): then that acceptance is the answer, checked again
   * after the refusal is kept so that a late one still wins.
   *
   * Kept only while the key's lock is this replica's, on its lock session (a fence): once
   * that session is lost, another replica may hold the key and accept it (on a balance from
   * after a grant), so the answer is 503 (retry with the same key), never a refusal that
   * can contradict it.
   */
  private async refuse(
    context: CommandContext,
    violation: RuleViolation,
    claim: KeyClaim,
  ): Promise<CommandResult<unknown>> {
    const accepted = await this.idempotency.find(context);
    if (accepted) return { ...accepted, replayed: true };
    await this.keyLocks.keepRefusal(claim, this.refusalAnswerOf(violation, context));
    const late = await this.idempotency.find(context);
    if (late) {
      await this.refusals.forget(context);
      return { ...late, replayed: true };
    }
    throw violation;
  }
}

/** The streams a command reads ahead: its own and, in its payer's queue, the payer's account. */
function readsOf(pending: Pending): readonly StreamRead[] {
  return pending.held === undefined
    ? pending.reads
    : [...pending.reads, { kind: 'account', name: accountStream(pending.held) }];
}

function uniqueReads(reads: readonly StreamRead[]): StreamRead[] {
  const byName = new Map<string, StreamRead>();
  for (const read of reads) if (!byName.has(read.name)) byName.set(read.name, read);
  return [...byName.values()];
}

/**
 * The decision's events by stream. A refund's payer is read (its lots decide what comes
 * back spendable), so every stream a decision writes is one the batch loaded and fences
 * at the revision it loaded; one it did not read would be appended with 'any'.
 */
function writesOf(
  decision: Decision<unknown>,
  reads: readonly StreamRead[],
  metadata: Record<string, string>,
): { streamName: string; events: EventToAppend[] }[] {
  const read = (kind: StreamKind) => reads.find((r) => r.kind === kind)?.name;
  const targets = [
    {
      streamName: decision.accountId === undefined ? read('account') : accountStream(decision.accountId),
      events: decision.account,
    },
    { streamName: read('project'), events: decision.project },
    { streamName: read('apiKey'), events: decision.apiKey },
    { streamName: read('webhookEndpoint'), events: decision.webhookEndpoint },
    { streamName: read('accountSettings'), events: decision.accountSettings },
  ];
  return targets.flatMap(({ streamName, events }) => {
    if (!events || events.length === 0) return [];
    assert(streamName !== undefined, 'a decision appends only to streams its command names');
    return [
      {
        streamName,
        events: events.map((e) => ({
          id: randomUUID(),
          type: e.type,
          // As the store keeps it (JSON): the batch folds these very events and keeps the state in
          // memory, which must be the state a cold load folds from the store (1e400 is kept as null).
          data: JSON.parse(JSON.stringify(e.data)) as Record<string, unknown>,
          metadata,
        })),
      },
    ];
  });
}

/** The result of a command that had no payer left to queue on. */
function decided(result: Outcome): CommandResult<unknown> {
  assert(!('payerToQueueOn' in result), "a command that reads no payer's account decides in its own queue");
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
