import { Inject, Injectable } from '@nestjs/common';
import type pg from 'pg';
import { EVENT_STORE, type EventStore, type StoredEvent } from '@ledger/event-store';
import { PG_POOL } from '../../infrastructure/tokens.js';
import { ProjectionProgress } from '../../projections/projection-progress.js';
import { InvariantChecker, type Violation } from './invariant-checker.js';
import { readProjectedRows, type ProjectedRows } from './projected-rows.js';
import { LotAudit } from './lot-audit.js';
import { ledgerMetrics } from '../../metrics/metrics.js';
import { ReadModelFold, compareRows, type Mismatch } from './read-model-fold.js';

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
}

// The store allows 4096 a read; smaller reads keep each step's memory and latency low.
const READ_BATCH = 1_000;
// An append is a handful of events (a command's streams and its record); this covers it.
const APPEND_EVENTS_MAX = 64;
export const REPORTED_MAX = 1_000;

/**
 * Compares the read models with a fold of the log and checks I1–I4 over the log,
 * both at a consistent point: the read models' checkpoints, read in one snapshot with
 * their rows. Events up to a checkpoint are final (the projector only passes positions
 * no running transaction can still fill in), so the log cannot move under the check.
 */
@Injectable()
export class Reconciliation {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(PG_POOL) private readonly pool: pg.Pool,
    private readonly progress: ProjectionProgress,
  ) {}

  async run(minPosition: bigint | undefined, waitMs: number): Promise<ReconciliationReport> {
    await this.progress.waitFor(minPosition, waitMs);
    const rows = await readProjectedRows(this.pool);
    const upTo = max(max(rows.accountsCheckpoint, rows.projectsCheckpoint), rows.lotsCheckpoint);
    const fold = new ReadModelFold(rows.accountsCheckpoint, rows.projectsCheckpoint);
    const checker = new InvariantChecker(REPORTED_MAX);
    const lotViolations = new Collector<Violation>();
    const lots = new LotAudit(rows.lotsCheckpoint, (v) => lotViolations.add(v));
    let last: StoredEvent | undefined;
    for (let after = 0n; after < upTo;) {
      const events = await this.store.readAll({ afterPosition: after, limit: READ_BATCH });
      for (const event of events) {
        if (event.position > upTo) break;
        fold.feed(event);
        checker.feed(event);
        lots.feed(event);
        last = event;
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
    const expected = row.totalGranted - row.totalDebited + row.totalRefunded - row.totalExpired - row.totalVoided;
    if (row.balance !== expected) {
      report({
        invariant: 'I1',
        id: accountId,
        message: `account ${accountId}: projected balance ${row.balance} is not granted − debited + refunded − expired − voided = ${expected}`,
        position: null,
      });
    }
    const lots = [...(rows.lots.get(accountId)?.values() ?? [])].reduce((sum, lot) => sum + lot.remaining, 0);
    if (sameCheckpoint && lots !== row.balance) {
      report({
        invariant: 'I7',
        id: accountId,
        message: `account ${accountId}: projected lots hold ${lots}, the projected balance is ${row.balance}`,
        position: null,
      });
    }
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
