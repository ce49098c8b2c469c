import type pg from 'pg';
import type { EventStore, StoredEvent } from '@ledger/event-store';
import { checkpointsTable, PROJECTIONS } from '@ledger/projections';
import { foldExpected } from './ledger-workload.js';
import { within } from './wait.js';

/** How long the read models get, by default, to apply the whole log before they are compared anyway. */
const CATCH_UP_BOUND_MS = 60_000;
/** How many differing rows a diff names (enough to find a bug, short enough to print). */
const NAMED = 10;

export interface ReadModelDiff {
  missing: number;
  duplicated: number;
  wrong: number;
  /** The first rows that differ, e.g. `missing ledger entry 1234`, for the failure message. */
  rows: string[];
}

interface ReadModelRows {
  /** The log's head in the snapshot the rows were read in. */
  head: bigint;
  entries: Record<string, unknown>[];
  lots: Record<string, unknown>[];
  balances: Record<string, unknown>[];
  projects: Record<string, unknown>[];
}

/**
 * The read models against a plain fold of every event in the store (`foldExpected`):
 * rows missing, rows there twice or that no event explains, and rows with other values.
 *
 * Compared at one moment: the rows are read in one snapshot in which every projection's
 * checkpoint has reached the log's head (waiting for that, within a bound), and the fold
 * takes the events up to that head. Without it, an event appended while the diff reads
 * (a lot the watchdog expires just then) counts as a row missing.
 */
export async function compareWithFold(
  pool: pg.Pool,
  store: EventStore,
  { catchUpMs = CATCH_UP_BOUND_MS }: { catchUpMs?: number } = {},
): Promise<ReadModelDiff> {
  let snapshot: ReadModelRows | undefined;
  await within(catchUpMs, async () => {
    snapshot = await readCaughtUp(pool);
    return snapshot !== undefined;
  });
  // Not caught up within the bound: compare what is there; the rows it lacks are the answer.
  snapshot ??= await readCaughtUp(pool, true);
  const { head, entries, lots, balances, projects } = snapshot!;

  const events: StoredEvent[] = [];
  for (let after = 0n; after < head;) {
    const page = await store.readAll({ afterPosition: after, limit: 4096 });
    if (page.length === 0) break;
    events.push(...page.filter((e) => e.position <= head));
    after = page[page.length - 1]!.position;
  }
  const expected = foldExpected(events);

  const diff: ReadModelDiff = { missing: 0, duplicated: 0, wrong: 0, rows: [] };
  const count = (kind: 'missing' | 'duplicated' | 'wrong', what: string) => {
    diff[kind]++;
    if (diff.rows.length < NAMED) diff.rows.push(`${kind} ${what}`);
  };
  const seen = new Set<string>();
  for (const row of entries) {
    const key = String(row.position);
    if (seen.has(key)) count('duplicated', `ledger entry ${key}`);
    seen.add(key);
    const want = expected.entries.get(key);
    if (!want) count('duplicated', `ledger entry ${key} (no event explains it)`);
    else if (
      want.accountId !== row.account_id ||
      want.balanceAfter !== Number(row.balance_after) ||
      want.paidAfter !== Number(row.paid_after) ||
      want.promotionalAfter !== Number(row.promotional_after)
    ) {
      count('wrong', `ledger entry ${key}: ${JSON.stringify(row)}, the fold says ${JSON.stringify(want)}`);
    }
  }
  for (const key of expected.entries.keys()) if (!seen.has(key)) count('missing', `ledger entry ${key}`);

  const lotRows = new Map<string, Record<string, unknown>>();
  for (const row of lots) {
    const key = `${String(row.account_id)}/${String(row.grant_id)}`;
    if (lotRows.has(key)) count('duplicated', `lot ${key}`);
    else if (!expected.lots.has(key)) count('duplicated', `lot ${key} (no event explains it)`);
    lotRows.set(key, row);
  }
  for (const [key, want] of expected.lots) {
    const row = lotRows.get(key);
    if (!row) count('missing', `lot ${key}`);
    else if (Number(row.remaining) !== want.remaining || row.status !== want.status)
      count('wrong', `lot ${key}: ${JSON.stringify(row)}, the fold says ${JSON.stringify(want)}`);
  }

  const balanceRows = new Map(balances.map((r) => [r.account_id as string, r]));
  for (const [accountId, want] of expected.balances) {
    const row = balanceRows.get(accountId);
    if (!row) count('missing', `balance of ${accountId}`);
    else if (
      Number(row.balance) !== want.balance ||
      Number(row.total_granted) !== want.granted ||
      Number(row.total_debited) !== want.debited ||
      Number(row.total_refunded) !== want.refunded ||
      Number(row.total_expired) !== want.expired ||
      Number(row.total_voided) !== want.voided
    ) {
      count('wrong', `balance of ${accountId}: ${JSON.stringify(row)}, the fold says ${JSON.stringify(want)}`);
    }
  }

  const projectRows = new Map(projects.map((r) => [r.project_id as string, r]));
  for (const [projectId, want] of expected.projects) {
    const row = projectRows.get(projectId);
    if (!row) count('missing', `project ${projectId}`);
    else if (
      row.status !== want.status ||
      Number(row.refunded) !== want.refunded ||
      (row.credits_used === null ? null : Number(row.credits_used)) !== want.creditsUsed ||
      row.attempt !== want.attempt
    ) {
      count('wrong', `project ${projectId}: ${JSON.stringify(row)}, the fold says ${JSON.stringify(want)}`);
    }
  }
  return diff;
}

/**
 * The read models' rows in one snapshot, if every projection has applied the log up to its
 * head in it (or `anyway`); else undefined.
 */
async function readCaughtUp(pool: pg.Pool, anyway = false): Promise<ReadModelRows | undefined> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const head = BigInt(
      (await client.query<{ head: string }>('SELECT coalesce(max(position), 0) AS head FROM event_store.events'))
        .rows[0]!.head,
    );
    const names = PROJECTIONS.map((p) => p.name);
    const positions = await checkpointsTable.positions(client, names);
    const caughtUp = names.every((name) => (positions.get(name) ?? 0n) >= head);
    if (!caughtUp && !anyway) return undefined;
    const rows = async (sql: string) => (await client.query<Record<string, unknown>>(sql)).rows;
    return {
      head,
      entries: await rows(
        'SELECT position, account_id, balance_after, paid_after, promotional_after FROM projections.ledger_entries',
      ),
      lots: await rows('SELECT account_id, grant_id, remaining, status FROM projections.lots'),
      balances: await rows('SELECT * FROM projections.account_balances'),
      projects: await rows('SELECT project_id, status, refunded, credits_used, attempt FROM projections.projects'),
    };
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}
