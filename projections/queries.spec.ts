import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { accountBalancesTable } from './account-balances/account-balances.table.js';
import { checkpointsTable } from './checkpoints/checkpoints.table.js';
import { ledgerEntriesTable } from './ledger-entries/ledger-entries.table.js';
import { lotsTable } from './lots/lots.table.js';
import { projectsTable } from './projects/projects.table.js';
import type { Queryable } from './rows.js';

/**
 * The SQL every named read of the table modules sends, compared with `queries.sql`
 * committed beside them, so a reviewer reads the real statements and sees a change to
 * one in the diff. UPDATE_QUERY_SNAPSHOTS=1 rewrites the file instead of comparing.
 */
const FILE = fileURLToPath(new URL('queries.sql', import.meta.url));
const AT = new Date(Date.UTC(2030, 0, 1));

const READS: [name: string, read: (db: Queryable) => Promise<unknown>][] = [
  ['projectsTable.byId', (db) => projectsTable.byId(db, 'p-1')],
  ['projectsTable.page (no filter, first page)', (db) => projectsTable.page(db, {}, { limit: 50, after: undefined })],
  [
    'projectsTable.page (account and status, after a cursor)',
    (db) => projectsTable.page(db, { accountId: 'acc-1', status: 'pending' }, { limit: 50, after: 42n }),
  ],
  [
    'projectsTable.page (missing assets)',
    (db) => projectsTable.page(db, { missingAssets: true }, { limit: 50, after: undefined }),
  ],
  ['projectsTable.byExternalTask', (db) => projectsTable.byExternalTask(db, 'task-1')],
  ['projectsTable.byExternalTasks', (db) => projectsTable.byExternalTasks(db, ['task-1', 'task-2'])],
  ['projectsTable.dueForWatchdog', (db) => projectsTable.dueForWatchdog(db, { now: AT, attemptsMax: 3, limit: 100 })],
  ['projectsTable.figuresAfter', (db) => projectsTable.figuresAfter(db, '', 5_000)],
  ['projectsTable.figuresByIds', (db) => projectsTable.figuresByIds(db, ['p-1', 'p-2'])],
  ['accountBalancesTable.byId', (db) => accountBalancesTable.byId(db, 'acc-1')],
  ['accountBalancesTable.exists', (db) => accountBalancesTable.exists(db, 'acc-1')],
  ['accountBalancesTable.moneyAfter', (db) => accountBalancesTable.moneyAfter(db, '', 5_000)],
  ['accountBalancesTable.moneyByIds', (db) => accountBalancesTable.moneyByIds(db, ['acc-1', 'acc-2'])],
  [
    'ledgerEntriesTable.pageByAccount (newest first)',
    (db) => ledgerEntriesTable.pageByAccount(db, 'acc-1', 'desc', { limit: 50, after: undefined }),
  ],
  [
    'ledgerEntriesTable.pageByAccount (oldest first, after a cursor)',
    (db) => ledgerEntriesTable.pageByAccount(db, 'acc-1', 'asc', { limit: 50, after: 42n }),
  ],
  ['ledgerEntriesTable.balancesAt', (db) => ledgerEntriesTable.balancesAt(db, 'acc-1', AT)],
  ['ledgerEntriesTable.range', (db) => ledgerEntriesTable.range(db, 'acc-1', 41, 420, 10_001)],
  [
    'lotsTable.page (active, first page)',
    (db) => lotsTable.page(db, 'acc-1', 'active', { limit: 50, after: undefined }),
  ],
  [
    'lotsTable.page (expired, after a cursor)',
    (db) => lotsTable.page(db, 'acc-1', 'expired', { limit: 50, after: 42n }),
  ],
  ['lotsTable.figuresAfter', (db) => lotsTable.figuresAfter(db, 0n, 5_000)],
  ['lotsTable.byAccounts', (db) => lotsTable.byAccounts(db, ['acc-1', 'acc-2'])],
  ['lotsTable.summary', (db) => lotsTable.summary(db, 'acc-1')],
  ['lotsTable.dueForExpiry', (db) => lotsTable.dueForExpiry(db, AT, 100)],
  ['checkpointsTable.positions', (db) => checkpointsTable.positions(db, ['account_balances', 'projects'])],
  ['checkpointsTable.lowest', (db) => checkpointsTable.lowest(db, ['account_balances', 'projects'])],
];

/** Each read's statement and values, as it sends them; the answer (none) does not matter here. */
async function statements(): Promise<string> {
  const parts: string[] = [];
  for (const [name, read] of READS) {
    const sent: { text: string; values: readonly unknown[] }[] = [];
    const db = {
      query: (text: string, values: readonly unknown[]) => {
        sent.push({ text, values });
        return Promise.resolve({ rows: [] });
      },
    } as unknown as Queryable;
    // A read that needs a row throws on the empty answer, after its statement was sent.
    await read(db).catch(() => undefined);
    for (const { text, values } of sent) {
      const lines = text
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line.length > 0);
      const bound = values.map((value, i) => `$${i + 1} = ${JSON.stringify(value, bigintAsText)}`).join(', ');
      parts.push(`-- ${name}\n-- ${bound}\n${lines.join('\n')};\n`);
    }
  }
  return parts.join('\n');
}

function bigintAsText(_: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

describe('the named reads of the table modules', () => {
  it('send the SQL committed in projections/queries.sql', async () => {
    const actual = await statements();
    if (process.env.UPDATE_QUERY_SNAPSHOTS === '1') await writeFile(FILE, actual);
    expect(actual).toBe(await readFile(FILE, 'utf8'));
  });
});
