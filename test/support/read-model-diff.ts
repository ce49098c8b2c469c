import type pg from 'pg';
import type { EventStore, StoredEvent } from '@ledger/event-store';
import { foldExpected } from './ledger-workload.js';

/**
 * The read models against a plain fold of every event in the store (`foldExpected`):
 * rows missing, rows there twice or that no event explains, and rows with other values.
 */
export async function compareWithFold(pool: pg.Pool, store: EventStore) {
  const events: StoredEvent[] = [];
  for (let after = 0n; ;) {
    const page = await store.readAll({ afterPosition: after, limit: 4096 });
    if (page.length === 0) break;
    events.push(...page);
    after = page[page.length - 1]!.position;
  }
  const expected = foldExpected(events);
  const entries = (
    await pool.query(
      'SELECT position, account_id, balance_after, paid_after, promotional_after FROM projections.ledger_entries',
    )
  ).rows;
  const lots = (await pool.query('SELECT account_id, grant_id, remaining, status FROM projections.lots')).rows;
  const balances = (await pool.query('SELECT * FROM projections.account_balances')).rows;
  const projects = (
    await pool.query('SELECT project_id, status, refunded, credits_used, attempt FROM projections.projects')
  ).rows;
  let missing = 0;
  let duplicated = 0;
  let wrong = 0;
  const seen = new Set<string>();
  for (const row of entries) {
    const key = String(row.position);
    if (seen.has(key)) duplicated++;
    seen.add(key);
    const want = expected.entries.get(key);
    if (!want) duplicated++;
    else if (
      want.accountId !== row.account_id ||
      want.balanceAfter !== Number(row.balance_after) ||
      want.paidAfter !== Number(row.paid_after) ||
      want.promotionalAfter !== Number(row.promotional_after)
    ) {
      wrong++;
    }
  }
  const lotRows = new Map(lots.map((r) => [`${r.account_id}/${r.grant_id}`, r]));
  if (lotRows.size !== lots.length) duplicated += lots.length - lotRows.size;
  duplicated += [...lotRows.keys()].filter((key) => !expected.lots.has(key)).length;
  for (const [key, want] of expected.lots) {
    const row = lotRows.get(key);
    if (!row) missing++;
    else if (Number(row.remaining) !== want.remaining || row.status !== want.status) wrong++;
  }
  missing += [...expected.entries.keys()].filter((key) => !seen.has(key)).length;
  const balanceRows = new Map(balances.map((r) => [r.account_id as string, r]));
  for (const [accountId, want] of expected.balances) {
    const row = balanceRows.get(accountId);
    if (!row) missing++;
    else if (
      Number(row.balance) !== want.balance ||
      Number(row.total_granted) !== want.granted ||
      Number(row.total_debited) !== want.debited ||
      Number(row.total_refunded) !== want.refunded ||
      Number(row.total_expired) !== want.expired ||
      Number(row.total_voided) !== want.voided
    ) {
      wrong++;
    }
  }
  const projectRows = new Map(projects.map((r) => [r.project_id as string, r]));
  for (const [projectId, want] of expected.projects) {
    const row = projectRows.get(projectId);
    if (!row) missing++;
    else if (
      row.status !== want.status ||
      Number(row.refunded) !== want.refunded ||
      (row.credits_used === null ? null : Number(row.credits_used)) !== want.creditsUsed ||
      row.attempt !== want.attempt
    ) {
      wrong++;
    }
  }
  return { missing, duplicated, wrong };
}
