import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type pg from 'pg';
import { EVENT_STORE, type EventStore, type StoredEvent } from '@ledger/event-store';
import { accountBalancesProjection, checkpointsTable, lotsProjection, projectsProjection } from '@ledger/projections';
import type { LedgerConfig } from '../../config/ledger-config.js';
import { ApiError } from '../../errors/api-error.js';
import { LEDGER_CONFIG, PG_POOL } from '../../infrastructure/tokens.js';
import { ProjectionProgress } from '../../projections/projection-progress.js';
import { readRows, ReconciliationChecker } from './reconciliation-checker.js';
import { setReconciliationGaugeSource } from './reconciliation.metrics.js';
import { reconciliationTables, type Finding, type StoredFinding } from './reconciliation.tables.js';
import { compareStreams, keyOf } from './stream-fold.js';
import { InvariantChecker, type Violation } from './invariant-checker.js';
import { readProjectedRows, type ProjectedRows } from './projected-rows.js';
import { LotAudit } from './lot-audit.js';
import { ledgerMetrics } from '../../metrics/metrics.js';
import { ReadModelFold, accountRowViolations, compareRows, type Mismatch } from './read-model-fold.js';

export interface ReconciliationReport {
  checkedAccounts: number;
  checkedProjects: number;
  /** The first `REPORTED_MAX`; `mismatchCount` counts them all. */
  mismatches: Mismatch[];
  mismatchCount: number;
  violations: Violation[];
  violationCount: number;
  /** The invariants hold (or not) over every event up to here. */
  position: number;
  /** Each read model was compared with the fold of the events up to its own checkpoint. */
  checkpoints: { accountBalances: number; projects: number; lots: number };
  /** `continuous`: the checker's findings, up to `position`; `full`: a fold of the whole log for this call. */
  mode: 'continuous' | 'full';
  /** The log's head when answered: `lagEvents` = `headPosition` − `position`. */
  headPosition: number;
  lagEvents: number;
}

// The store allows 4096 a read; smaller reads keep each step's memory and latency low.
const READ_BATCH = 1_000;
// A full fold says how far it is every this many events.
const PROGRESS_EVERY_EVENTS = 100_000;
// How often a call re-reads the checker's progress while it waits for it.
const WAIT_POLL_MS = 20;
// An append is a handful of events (a command's streams and its record); this covers it.
const APPEND_EVENTS_MAX = 64;
export const REPORTED_MAX = 1_000;

/**
 * GET /v1/audit/reconciliation. By default it answers from what the continuous checker
 * (reconciliation-checker.ts, running on one replica) has found, in O(findings); with
 * `full` (or the checker configured off) it folds the whole log for the call, as below.
 */
@Injectable()
export class Reconciliation implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly checker: ReconciliationChecker | undefined;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(PG_POOL) private readonly pool: pg.Pool,
    @Inject(LEDGER_CONFIG) config: LedgerConfig,
    private readonly progress: ProjectionProgress,
    private readonly log: PinoLogger,
  ) {
    const logger = {
      info: (object: object, message: string) => log.logger.info(object, message),
      warn: (object: object, message: string) => log.logger.warn(object, message),
    };
    this.checker = config.reconciliation.checker
      ? new ReconciliationChecker({
          pool,
          connectionString: config.databaseUrl!,
          store,
          log: logger,
          sweepIntervalMs: config.reconciliation.sweepIntervalMs,
          paceMs: config.reconciliation.paceMs,
        })
      : undefined;
  }

  onApplicationBootstrap(): void {
    if (!this.checker) return;
    this.checker.start();
    setReconciliationGaugeSource({
      progress: async () => {
        const [progress, head, counts] = await Promise.all([
          reconciliationTables.progress(this.pool),
          this.store.headPosition(),
          reconciliationTables.counts(this.pool),
        ]);
        return {
          checkedPosition: Number(progress.comparedPosition),
          lagEvents: Number(head > progress.comparedPosition ? head - progress.comparedPosition : 0n),
          ...counts,
        };
      },
    });
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.checker) return;
    setReconciliationGaugeSource(undefined);
    await this.checker.stop();
  }

  run(minPosition: bigint | undefined, waitMs: number, full = false): Promise<ReconciliationReport> {
    return full || !this.checker ? this.fullRun(minPosition, waitMs) : this.continuous(minPosition, waitMs);
  }

  /**
   * The checker's open findings, once it has compared up to `minPosition` (503 if not within
   * `waitMs`), or without one up to where the read models stand now (answered anyway after
   * `waitMs`, its lag visible in `position` against `headPosition`).
   */
  private async continuous(minPosition: bigint | undefined, waitMs: number): Promise<ReconciliationReport> {
    const deadline = Date.now() + waitMs;
    await this.progress.waitFor(minPosition, waitMs);
    const target = minPosition ?? (await this.progress.position());
    let progress = await reconciliationTables.progress(this.pool);
    // The checker here (if this replica holds it) need not finish its pause between batches.
    if (progress.comparedPosition < target) this.checker?.hurry();
    while (progress.comparedPosition < target && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
      progress = await reconciliationTables.progress(this.pool);
    }
    if (minPosition !== undefined && progress.comparedPosition < minPosition) {
      throw new ApiError(
        503,
        'projection_behind',
        `the reconciliation has not reached position ${minPosition} within ${waitMs} ms; retry`,
        { minPosition: Number(minPosition), position: Number(progress.comparedPosition) },
        { 'retry-after': '1' },
      );
    }
    const [counts, { mismatches, violations, cleared }, checkpoints, head] = await Promise.all([
      reconciliationTables.counts(this.pool),
      this.reverified(progress.position),
      checkpointsTable.positions(this.pool, [
        accountBalancesProjection.name,
        projectsProjection.name,
        lotsProjection.name,
      ]),
      this.store.headPosition(),
    ]);
    ledgerMetrics.reconciliationMismatches.set(counts.mismatches - cleared.mismatches);
    ledgerMetrics.reconciliationViolations.set(counts.violations - cleared.violations);
    ledgerMetrics.reconciliationLastRun.set(Date.now() / 1000);
    const position = progress.comparedPosition;
    return {
      checkedAccounts: progress.accounts,
      checkedProjects: progress.projects,
      mismatches,
      mismatchCount: counts.mismatches - cleared.mismatches,
      violations,
      violationCount: counts.violations - cleared.violations,
      position: Number(position),
      checkpoints: {
        accountBalances: Number(checkpoints.get(accountBalancesProjection.name) ?? 0n),
        projects: Number(checkpoints.get(projectsProjection.name) ?? 0n),
        lots: Number(checkpoints.get(lotsProjection.name) ?? 0n),
      },
      mode: 'continuous',
      headPosition: Number(head),
      lagEvents: Number(head > position ? head - position : 0n),
    };
  }

  /**
   * The open findings (the first REPORTED_MAX of each kind), those of a row against the fold
   * compared again now (read only, one snapshot): a stream whose rows were put right since
   * its last comparison (a projector that caught up after it) is not reported until the
   * checker next compares it. O(findings). `cleared`: how many stored findings that drops.
   */
  private async reverified(checkedUpTo: bigint) {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const stored = [
        ...(await reconciliationTables.findings(client, 'mismatch', REPORTED_MAX)),
        ...(await reconciliationTables.findings(client, 'violation', REPORTED_MAX)),
      ];
      const keyOfFinding = (f: StoredFinding) => keyOf([f.streamKind, f.streamId]);
      const compareKeys = new Map(
        stored.filter((f) => f.origin === 'compare').map((f) => [keyOfFinding(f), [f.streamKind, f.streamId] as const]),
      );
      const streams = await reconciliationTables.streams(client, [...compareKeys.values()]);
      const comparison = compareStreams(streams, await readRows(client, streams), checkedUpTo);
      await client.query('COMMIT');
      const compared = new Set(comparison.compared.map(keyOf));
      const kept = stored.filter((f) => f.origin !== 'compare' || !compared.has(keyOfFinding(f)));
      const findings = [...kept, ...comparison.findings];
      const dropped = (kind: Finding['kind']) =>
        stored.filter((f) => f.finding.kind === kind).length - findings.filter((f) => f.finding.kind === kind).length;
      const of = <Body>(kind: Finding['kind']) =>
        findings.filter((f) => f.finding.kind === kind).map((f) => f.finding.body as Body);
      return {
        mismatches: of<Mismatch>('mismatch'),
        violations: of<Violation>('violation'),
        cleared: { mismatches: dropped('mismatch'), violations: dropped('violation') },
      };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Compares the read models with a fold of the whole log and checks I1–I4 over the log,
   * both at a consistent point: the read models' checkpoints, read in one snapshot with
   * their rows. Events up to a checkpoint are final (the projector only passes positions
   * no running transaction can still fill in), so the log cannot move under the check.
   * The log is read a page at a time; memory is one aggregate per stream.
   */
  private async fullRun(minPosition: bigint | undefined, waitMs: number): Promise<ReconciliationReport> {
    await this.progress.waitFor(minPosition, waitMs);
    const rows = await readProjectedRows(this.pool);
    const upTo = max(max(rows.accountsCheckpoint, rows.projectsCheckpoint), rows.lotsCheckpoint);
    const fold = new ReadModelFold(rows.accountsCheckpoint, rows.projectsCheckpoint);
    const checker = new InvariantChecker(REPORTED_MAX);
    const lotViolations = new Collector<Violation>();
    const lots = new LotAudit(rows.lotsCheckpoint, (v) => lotViolations.add(v));
    const startedMs = Date.now();
    this.log.logger.info({ upTo: String(upTo) }, 'reconciliation: full fold of the log started');
    let last: StoredEvent | undefined;
    let folded = 0;
    for (let after = 0n; after < upTo;) {
      const events = await this.store.readAll({ afterPosition: after, limit: READ_BATCH });
      for (const event of events) {
        if (event.position > upTo) break;
        fold.feed(event);
        checker.feed(event);
        lots.feed(event);
        last = event;
        if (++folded % PROGRESS_EVERY_EVENTS === 0) {
          this.log.logger.info(
            { position: String(event.position), upTo: String(upTo), events: folded },
            'reconciliation: full fold in progress',
          );
        }
      }
      const end = events.at(-1)?.position;
      if (end === undefined || events.length < READ_BATCH) break;
      after = end;
    }
    const position = await this.completeAppend(last, checker);
    const report = checker.finish();
    const mismatches = new Collector<Mismatch>();
    const checkedAccounts = compareRows('accountId', rows.accounts, fold.accounts, (m) => mismatches.add(m));
    const checkedProjects = compareRows('projectId', rows.projects, fold.projects, (m) => mismatches.add(m));
    lots.compare(rows.lots, (m) => mismatches.add(m));
    const violations = new Collector<Violation>(report.violations, report.violationCount);
    for (const violation of lotViolations.items) violations.add(violation);
    violations.count += lotViolations.count - lotViolations.items.length;
    balanceIdentity(rows, (v) => violations.add(v));
    ledgerMetrics.reconciliationMismatches.set(mismatches.count);
    ledgerMetrics.reconciliationViolations.set(violations.count);
    ledgerMetrics.reconciliationLastRun.set(Date.now() / 1000);
    const head = await this.store.headPosition();
    this.log.logger.info(
      { position: String(position), events: folded, durationMs: Date.now() - startedMs },
      'reconciliation: full fold of the log done',
    );
    return {
      checkedAccounts,
      checkedProjects,
      mismatches: mismatches.items,
      mismatchCount: mismatches.count,
      violations: violations.items,
      violationCount: violations.count,
      position: Number(position),
      checkpoints: {
        accountBalances: Number(rows.accountsCheckpoint),
        projects: Number(rows.projectsCheckpoint),
        lots: Number(rows.lotsCheckpoint),
      },
      mode: 'full',
      headPosition: Number(head),
      lagEvents: Number(head > position ? head - position : 0n),
    };
  }

  /**
   * A projector batch may end inside an append (a debit without its ProjectStarted yet).
   * The rows are right to stop there, but the invariants hold per append: the rest of the
   * append that straddles the checkpoint goes to the checker too. Its events all commit
   * together, so they are as final as the one before the checkpoint.
   */
  private async completeAppend(last: StoredEvent | undefined, checker: InvariantChecker): Promise<bigint> {
    const commandId = last?.metadata.commandId;
    if (!last || commandId === undefined) return last?.position ?? 0n;
    let position = last.position;
    const next = await this.store.readAll({ afterPosition: last.position, limit: APPEND_EVENTS_MAX });
    for (const event of next) {
      if (event.metadata.commandId !== commandId) continue;
      checker.feed(event);
      position = event.position;
    }
    return position;
  }
}

/**
 * I1 on the read model itself: a row's balance is its totals' sum; and I7: its projected
 * lots hold the balance (when both read models stand at the same checkpoint).
 */
function balanceIdentity(rows: ProjectedRows, report: (violation: Violation) => void): void {
  const sameCheckpoint = rows.accountsCheckpoint === rows.lotsCheckpoint;
  for (const [accountId, row] of rows.accounts) {
    const lots = sameCheckpoint ? [...(rows.lots.get(accountId)?.values() ?? [])] : undefined;
    accountRowViolations(accountId, row, lots, report);
  }
}

/** Keeps the first REPORTED_MAX items and counts them all: a report stays small however broken the data. */
class Collector<T> {
  constructor(
    readonly items: T[] = [],
    public count = items.length,
  ) {}

  add(item: T): void {
    this.count++;
    if (this.items.length < REPORTED_MAX) this.items.push(item);
  }
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
