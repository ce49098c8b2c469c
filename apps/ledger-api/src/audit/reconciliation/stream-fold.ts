import { accountIdOf, projectIdOf, type AccountMoney } from '@ledger/domain';
import type { StoredEvent } from '@ledger/event-store';
import type { LotRow, Positioned, ProjectFigures } from '@ledger/projections';
import {
  InvariantChecker,
  type AccountAggregate,
  type ProjectAggregateJson,
  type Violation,
} from './invariant-checker.js';
import { LotAudit, type AccountLots, type LotFigures } from './lot-audit.js';
import { accountRowViolations, compareRows, ReadModelFold, type Mismatch } from './read-model-fold.js';
import type { StoredFinding, StreamKind, StreamRecord } from './reconciliation.tables.js';

/**
 * The continuous reconciliation's fold, one batch of the log at a time, with the same
 * code as the whole-log check (InvariantChecker, ReadModelFold, LotAudit): each batch
 * loads the state of the streams it touches, feeds its events, judges those streams, and
 * hands their new state back to be kept. Pure: the checker does the I/O.
 */

export interface AccountStreamState {
  checker: AccountAggregate | null;
  money: AccountMoney | null;
  lots: AccountLots | null;
}

export interface ProjectStreamState {
  checker: ProjectAggregateJson | null;
  figures: ProjectFigures | null;
}

export type StreamKey = readonly [StreamKind, string];

// Far past any position: the continuous fold is compared at its own position, not a checkpoint.
const EVERY_POSITION = 2n ** 62n;

/** The streams an event changes the fold of: its own, and a debited or refunded project's. */
export function streamsOf(event: StoredEvent): StreamKey[] {
  const accountId = accountIdOf(event.streamName);
  if (accountId !== undefined) {
    const projectId = event.data.projectId;
    const touchesProject = (event.type === 'Debited' || event.type === 'Refunded') && typeof projectId === 'string';
    return touchesProject
      ? [
          ['account', accountId],
          ['project', projectId],
        ]
      : [['account', accountId]];
  }
  const projectId = projectIdOf(event.streamName);
  return projectId === undefined ? [] : [['project', projectId]];
}

export const keyOf = ([kind, id]: StreamKey): string => `${kind}\n${id}`;

export interface BatchResult {
  /** The touched streams with their new state and position (compare_pending still to be decided). */
  streams: StreamRecord[];
  /** Invariants broken by an event: kept for good. */
  logged: StoredFinding[];
  /** What the touched streams' folds break as they stand now: replaces what they broke before. */
  stated: StoredFinding[];
}

/** Folds `events` (in position order, whole appends) over the `loaded` state of the streams they touch. */
export function foldBatch(loaded: readonly StreamRecord[], events: readonly StoredEvent[]): BatchResult {
  const checker = new InvariantChecker(Number.POSITIVE_INFINITY);
  const fold = new ReadModelFold(EVERY_POSITION, EVERY_POSITION);
  const logged: StoredFinding[] = [];
  const lotAudit = new LotAudit(EVERY_POSITION, (violation) => logged.push(violationFinding('log', violation)));
  for (const record of loaded) {
    if (record.kind === 'account') {
      const state = record.state as AccountStreamState;
      if (state.checker) checker.importAccount(record.id, state.checker);
      if (state.money) fold.accounts.set(record.id, state.money);
      if (state.lots) importLots(lotAudit, record.id, state.lots);
    } else {
      const state = record.state as ProjectStreamState;
      if (state.checker) checker.importProject(record.id, state.checker);
      if (state.figures) fold.projects.set(record.id, state.figures);
    }
  }
  const touched = new Map<string, StreamRecord>();
  for (const event of events) {
    for (const [kind, id] of streamsOf(event)) {
      touched.set(keyOf([kind, id]), { kind, id, state: null, position: event.position, comparePending: false });
    }
    checker.feed(event);
    fold.feed(event);
    lotAudit.feed(event);
  }
  const report = checker.finish();
  const stated: StoredFinding[] = [];
  for (const violation of report.violations) {
    if (violation.position === null) stated.push(violationFinding('state', violation));
    else logged.push(violationFinding('log', violation));
  }
  const streams = [...touched.values()].map((record) => ({
    ...record,
    state:
      record.kind === 'account'
        ? ({
            checker: checker.exportAccount(record.id) ?? null,
            money: fold.accounts.get(record.id) ?? null,
            lots: lotsToKeep(lotAudit.exportAccount(record.id)),
          } satisfies AccountStreamState)
        : ({
            checker: checker.exportProject(record.id) ?? null,
            figures: fold.projects.get(record.id) ?? null,
          } satisfies ProjectStreamState),
  }));
  // Only the touched streams' state findings are replaced; the loaded ones were judged with them.
  const isTouched = (finding: StoredFinding) => touched.has(keyOf([finding.streamKind, finding.streamId]));
  return { streams, logged, stated: stated.filter(isTouched) };
}

/** The read models as one snapshot shows them, for the streams being compared. */
export interface RowsSnapshot {
  checkpoints: { accounts: bigint; projects: bigint; lots: bigint };
  accounts: ReadonlyMap<string, Positioned<AccountMoney>>;
  projects: ReadonlyMap<string, Positioned<ProjectFigures>>;
  lots: ReadonlyMap<string, readonly Positioned<LotRow>[]>;
}

export interface Comparison {
  /** Compared: their 'compare' findings are replaced by `findings`. */
  compared: StreamKey[];
  /** Their read models had not reached their fold: compared once they have. */
  waiting: StreamKey[];
  findings: StoredFinding[];
}

/**
 * Each stream's fold (at the checker's position `checkedUpTo`) against its rows, where the
 * two can be compared: the read model's checkpoint has reached the stream's last folded
 * event (else it waits: a lagging projector is no mismatch), and no row has applied an
 * event past `checkedUpTo` (a projector ahead of the checker: the checker folds that event
 * later, and compares the stream then).
 */
export function compareStreams(records: readonly StreamRecord[], rows: RowsSnapshot, checkedUpTo: bigint): Comparison {
  const result: Comparison = { compared: [], waiting: [], findings: [] };
  for (const record of records) {
    const key: StreamKey = [record.kind, record.id];
    const findings: StoredFinding[] = [];
    const mismatch = (body: Mismatch) =>
      findings.push({
        ...key2(key),
        origin: 'compare',
        finding: { kind: 'mismatch', body, position: record.position },
      });
    if (record.kind === 'account') {
      const reached = min(rows.checkpoints.accounts, rows.checkpoints.lots);
      if (reached < record.position) {
        result.waiting.push(key);
        continue;
      }
      const row = rows.accounts.get(record.id);
      const lots = rows.lots.get(record.id) ?? [];
      if ((row && row.position > checkedUpTo) || lots.some((lot) => lot.position > checkedUpTo)) continue;
      const state = record.state as AccountStreamState;
      compareRows('accountId', mapOf(record.id, row?.row), mapOf(record.id, state.money ?? undefined), mismatch);
      const audit = new LotAudit(EVERY_POSITION, () => undefined);
      if (state.lots) importLots(audit, record.id, state.lots);
      const figures = new Map(lots.map(({ row: lot }) => [lot.grantId, figuresOfRow(lot)]));
      audit.compareAccount(record.id, figures, mismatch);
      if (row) {
        accountRowViolations(record.id, row.row, [...figures.values()], (violation) =>
          findings.push(violationFinding('compare', violation, record.position)),
        );
      }
    } else {
      if (rows.checkpoints.projects < record.position) {
        result.waiting.push(key);
        continue;
      }
      const row = rows.projects.get(record.id);
      if (row && row.position > checkedUpTo) continue;
      const state = record.state as ProjectStreamState;
      compareRows('projectId', mapOf(record.id, row?.row), mapOf(record.id, state.figures ?? undefined), mismatch);
    }
    result.compared.push(key);
    result.findings.push(...findings);
  }
  return result;
}

function violationFinding(
  origin: StoredFinding['origin'],
  violation: Violation,
  position = BigInt(violation.position ?? 0),
): StoredFinding {
  // Every message names its subject first: "account <id>: ..." or "project <id> ...".
  const streamKind: StreamKind = violation.message.startsWith('project ') ? 'project' : 'account';
  return { streamKind, streamId: violation.id, origin, finding: { kind: 'violation', body: violation, position } };
}

// An account's lots are kept without their state as of a checkpoint: here that is always the state now.
function importLots(audit: LotAudit, accountId: string, lots: AccountLots): void {
  audit.importAccount(accountId, { ...lots, atCheckpoint: lots.state });
}

function lotsToKeep(account: AccountLots | undefined): AccountLots | null {
  return account ? { ...account, atCheckpoint: undefined } : null;
}

function key2([streamKind, streamId]: StreamKey) {
  return { streamKind, streamId };
}

function mapOf<Row>(id: string, row: Row | undefined): Map<string, Row> {
  return row === undefined ? new Map() : new Map([[id, row]]);
}

function figuresOfRow({ category, granted, remaining, status }: LotRow): LotFigures {
  return { category, granted, remaining, status };
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
