import { setTimeout as delay } from 'node:timers/promises';
import type pg from 'pg';
import { listenWhileCheckedOut } from '@ledger/platform';
import type { EventStore, StoredEvent, Subscription } from '@ledger/event-store';
import {
  accountBalancesProjection,
  accountBalancesTable,
  batched,
  checkpointsTable,
  lotsProjection,
  lotsTable,
  projectsProjection,
  projectsTable,
} from '@ledger/projections';
import { WatchdogLock } from '../../watchdog/watchdog-lock.js';
import { reconciliationTables, type StreamRecord } from './reconciliation.tables.js';
import { compareStreams, foldBatch, keyOf, streamsOf, type RowsSnapshot, type StreamKey } from './stream-fold.js';

// Beside the watchdog's (7_245_300) and the outbound dispatcher's (7_245_400).
const CHECKER_LOCK: readonly [number, number] = [7_245_500, 1];
// Large batches: the checker's cost is per transaction more than per event.
const BATCH_SIZE_MAX = 8_000;
// An append is a handful of events (a command's streams and its record); this covers it.
const APPEND_EVENTS_MAX = 64;
// Streams re-compared (waiting ones, or a sweep's page) in one transaction.
const COMPARE_PAGE_MAX = 1_000;
// How often an idle checker looks at the streams waiting for their read models.
const RECHECK_EVERY_MS = 200;

export interface CheckerLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

export interface CheckerOptions {
  pool: pg.Pool;
  connectionString: string;
  store: EventStore;
  log: CheckerLog;
  /** How often every stream's fold is compared with its rows again (a row edited by hand touches no stream). */
  sweepIntervalMs: number;
  /** At the head, the least time between two batches (ledger-config.ts, `LEDGER_RECONCILIATION_PACE_MS`). */
  paceMs: number;
}

/**
 * Continuous reconciliation: follows the log from its own checkpoint like a projection
 * (one active across replicas: a Postgres advisory lock elects it), folds each account
 * and project on its own (stream-fold.ts, the whole-log check's code), and compares the
 * streams a batch touched with their read-model rows, in the transaction that moves its
 * checkpoint, so a restart resumes where it stopped. What it finds waits in
 * ledger_api.reconciliation_findings for GET /v1/audit/reconciliation.
 */
export class ReconciliationChecker {
  private readonly lock: WatchdogLock;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private subscription: Subscription | undefined;
  private checkpointPosition = 0n;
  private lastSweepMs = Date.now();
  private ticking = false;
  private endPause: (() => void) | undefined;
  /** Batches, re-checks and sweeps take turns: each sees the state of one committed checkpoint. */
  private turn: Promise<unknown> = Promise.resolve();
  /** Where this process's fold started when it took the lock (for the log and the tests). */
  resumedFrom: bigint | undefined;

  constructor(private readonly options: CheckerOptions) {
    this.lock = new WatchdogLock(
      options.connectionString,
      () => {
        options.log.warn({}, 'reconciliation checker: lost the lock session; standing by');
        void this.subscription?.close();
      },
      CHECKER_LOCK,
    );
  }

  get active(): boolean {
    return this.lock.held;
  }

  start(): void {
    this.running = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.subscription?.close();
    await this.running;
    await this.turn;
    await this.lock.release();
  }

  private run(signal: AbortSignal): Promise<void> {
    return this.lock.runWhileHeld(
      () => this.follow(signal),
      signal,
      (error) =>
        this.options.log.warn({ err: error }, 'reconciliation checker: following the log failed; starting again'),
    );
  }

  private async follow(signal: AbortSignal): Promise<void> {
    const progress = await this.inTransaction((client) => reconciliationTables.progress(client, true));
    this.checkpointPosition = progress.position;
    this.resumedFrom = progress.position;
    this.options.log.info({ position: String(progress.position) }, 'reconciliation checker: active');
    const subscription = this.options.store.subscribeToAll({ afterPosition: this.checkpointPosition });
    this.subscription = subscription;
    // stop() came while this was being set up: it closed no subscription, and this one would wait for events.
    if (signal.aborted) return subscription.close();
    const ticker = setInterval(() => void this.tick().catch(() => undefined), RECHECK_EVERY_MS);
    try {
      for await (const batch of batched(subscription, BATCH_SIZE_MAX)) {
        if (signal.aborted || !this.lock.held) break;
        await this.inTurn(() => this.apply(batch));
        // At the head a batch is an append or two: the next one gathers what comes in paceMs (one
        // transaction for them, not one a commit). Catching up (a full batch), it goes on at once.
        if (batch.length < BATCH_SIZE_MAX && this.options.paceMs > 0) await this.pause(signal);
      }
    } finally {
      clearInterval(ticker);
      await subscription.close();
    }
  }

  /** Ends the pause between two batches now: a call waits for the check to reach the read models. */
  hurry(): void {
    this.endPause?.();
  }

  private async pause(signal: AbortSignal): Promise<void> {
    const paused = new AbortController();
    this.endPause = () => paused.abort();
    try {
      await delay(this.options.paceMs, undefined, { signal: AbortSignal.any([signal, paused.signal]) });
    } catch {
      // Hurried, or stopping: either way the pause is over.
    } finally {
      this.endPause = undefined;
    }
  }

  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const next = this.turn.then(work);
    this.turn = next.catch(() => undefined);
    return next;
  }

  /** Between batches: the streams whose read models have caught up, and a sweep when one is due. */
  private async tick(): Promise<void> {
    if (!this.lock.held || this.ticking) return;
    this.ticking = true;
    try {
      await this.inTurn(() => this.recheckWaiting());
      if (Date.now() - this.lastSweepMs >= this.options.sweepIntervalMs) {
        await this.sweep();
        this.lastSweepMs = Date.now();
      }
    } finally {
      this.ticking = false;
    }
  }

  /**
   * One batch, one transaction: fold the streams it touches, compare them (and the streams
   * waiting whose read models have caught up) with the rows of one snapshot, keep what was
   * found, move the checkpoint. An event at or below the checkpoint (redelivered) is skipped.
   */
  private async apply(batch: readonly StoredEvent[]): Promise<void> {
    const events = batch.filter((event) => event.position > this.checkpointPosition);
    if (events.length === 0) return;
    await this.completeAppend(events);
    const upTo = events.at(-1)!.position;
    await this.inTransaction(async (client) => {
      await this.fence(client);
      const keys = new Map<string, StreamKey>();
      for (const event of events) for (const key of streamsOf(event)) keys.set(keyOf(key), key);
      const touched = [...keys.values()];
      const folded = foldBatch(await reconciliationTables.streams(client, touched), events);
      const rows = await readRows(client, folded.streams);
      const comparison = compareStreams(folded.streams, rows, upTo);
      const waiting = new Set(comparison.waiting.map(keyOf));
      for (const stream of folded.streams) stream.comparePending = waiting.has(keyOf([stream.kind, stream.id]));
      const added = await reconciliationTables.saveStreams(client, folded.streams);
      await reconciliationTables.addFindings(client, folded.logged);
      await reconciliationTables.replaceFindings(client, 'state', touched, folded.stated);
      await reconciliationTables.replaceFindings(client, 'compare', comparison.compared, comparison.findings);
      await this.compareWaiting(client, rows.checkpoints, upTo);
      await reconciliationTables.saveProgress(client, upTo, added.account, added.project);
    });
    this.checkpointPosition = upTo;
  }

  /**
   * A batch may end inside an append (a debit without its ProjectStarted yet): the rest of
   * that append joins it, so each stream is judged at a whole append. Its events commit
   * together, so they are as final as the one before. The subscription redelivers them; skipped then.
   */
  private async completeAppend(events: StoredEvent[]): Promise<void> {
    const last = events.at(-1)!;
    const commandId = last.metadata.commandId;
    if (commandId === undefined) return;
    const next = await this.options.store.readAll({ afterPosition: last.position, limit: APPEND_EVENTS_MAX });
    for (const event of next) if (event.metadata.commandId === commandId) events.push(event);
  }

  private async recheckWaiting(): Promise<void> {
    if (!this.lock.held) return;
    await this.inTransaction(async (client) => {
      await this.fence(client);
      const checkpoints = await readCheckpoints(client);
      if ((await this.compareWaiting(client, checkpoints, this.checkpointPosition)) === 0) return;
      await reconciliationTables.saveProgress(client, this.checkpointPosition, 0, 0);
    });
  }

  /** The waiting streams whose read models have reached their fold (a page of them); returns how many. */
  private async compareWaiting(
    client: pg.PoolClient,
    checkpoints: RowsSnapshot['checkpoints'],
    upTo: bigint,
  ): Promise<number> {
    const reached = [checkpoints.accounts, checkpoints.projects, checkpoints.lots].reduce((a, b) => (a < b ? a : b));
    const waiting = await reconciliationTables.pending(client, reached, COMPARE_PAGE_MAX);
    if (waiting.length === 0) return 0;
    await this.compareAndKeep(client, waiting, upTo);
    return waiting.length;
  }

  /** Compares `streams` with their rows; those compared (or no longer comparable) stop waiting. */
  private async compareAndKeep(client: pg.PoolClient, streams: StreamRecord[], upTo: bigint): Promise<void> {
    const rows = await readRows(client, streams);
    const comparison = compareStreams(streams, rows, upTo);
    await reconciliationTables.replaceFindings(client, 'compare', comparison.compared, comparison.findings);
    const waiting = new Set(comparison.waiting.map(keyOf));
    const done = streams.filter((s) => s.comparePending && !waiting.has(keyOf([s.kind, s.id])));
    await reconciliationTables.setPending(
      client,
      done.map((s) => [s.kind, s.id] as const),
      false,
    );
    await reconciliationTables.setPending(client, comparison.waiting, true);
  }

  /**
   * Every stream's fold against its rows again, a page per transaction: finds what no event
   * brought (a row edited by hand), and clears it once undone.
   */
  async sweep(): Promise<void> {
    let after: readonly [string, string] = ['', ''];
    for (let pages = 0; this.lock.held; pages++) {
      const page = await this.inTurn(() =>
        this.inTransaction(async (client) => {
          await this.fence(client);
          const streams = await reconciliationTables.streamsAfter(client, after, COMPARE_PAGE_MAX);
          if (streams.length > 0) {
            await this.compareAndKeep(client, streams, this.checkpointPosition);
            await reconciliationTables.saveProgress(client, this.checkpointPosition, 0, 0);
          }
          return streams;
        }),
      );
      if (page.length < COMPARE_PAGE_MAX) return;
      after = [page.at(-1)!.kind, page.at(-1)!.id];
    }
  }

  /** Fenced: a checker that lost its lock while another moved on must not write behind it. */
  private async fence(client: pg.PoolClient): Promise<void> {
    const committed = (await reconciliationTables.progress(client, true)).position;
    if (committed !== this.checkpointPosition) {
      throw new Error(`the reconciliation checkpoint moved to ${committed} under this checker`);
    }
  }

  /**
   * REPEATABLE READ: the read models' checkpoints and rows come from one snapshot, so each
   * table is exactly the fold of the events up to its own checkpoint.
   */
  private async inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.options.pool.connect();
    // A connection that dies while out (PostgreSQL killed) must not end the process: its queries fail.
    const release = listenWhileCheckedOut(client);
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      release();
    }
  }
}

async function readCheckpoints(client: pg.PoolClient): Promise<RowsSnapshot['checkpoints']> {
  const positions = await checkpointsTable.positions(client, [
    accountBalancesProjection.name,
    projectsProjection.name,
    lotsProjection.name,
  ]);
  return {
    accounts: positions.get(accountBalancesProjection.name) ?? 0n,
    projects: positions.get(projectsProjection.name) ?? 0n,
    lots: positions.get(lotsProjection.name) ?? 0n,
  };
}

export async function readRows(client: pg.PoolClient, streams: readonly StreamRecord[]): Promise<RowsSnapshot> {
  const accountIds = streams.filter((s) => s.kind === 'account').map((s) => s.id);
  const projectIds = streams.filter((s) => s.kind === 'project').map((s) => s.id);
  return {
    checkpoints: await readCheckpoints(client),
    accounts: await accountBalancesTable.moneyByIds(client, accountIds),
    projects: await projectsTable.figuresByIds(client, projectIds),
    lots: await lotsTable.byAccounts(client, accountIds),
  };
}
