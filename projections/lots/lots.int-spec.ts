import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { PostgresEventStore } from '@ledger/event-store';
import type { Projector } from '../engine/projector.js';
import { accountBalancesTable } from '../account-balances/account-balances.table.js';
import { ledgerEntriesTable } from '../ledger-entries/ledger-entries.table.js';
import { startProjectedDatabase, type ProjectedDatabase } from '../testing/projected-database.js';
import { compareTables, rebuildProjection } from '../engine/rebuild.js';
import { LIVE_SCHEMA } from '../projection.js';
import {
  compareForSpending,
  evolveAccount,
  initialAccountState,
  type Lot,
  type StoredAccountEvent,
} from '@ledger/domain';
import { lotsProjection } from './lots.projection.js';
import { LOTS_TABLE, lotsTable } from './lots.table.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('lots and the lot columns: given events, expected rows', () => {
  let db: ProjectedDatabase;
  let store: PostgresEventStore;
  let pool: pg.Pool;
  let projector: Projector;

  beforeAll(async () => {
    db = await startProjectedDatabase('lots', quiet);
    ({ store, pool, projector } = db);
  });
  afterAll(() => db.close());

  const e = (type: string, data: Record<string, unknown>, id: string = randomUUID()) => ({ id, type, data });
  async function given(stream: string, ...events: ReturnType<typeof e>[]): Promise<bigint> {
    const result = await store.append([{ streamName: stream, expectedRevision: 'any', events }]);
    await projector.caughtUp(result.position);
    return result.position;
  }
  const lots = async (accountId: string) =>
    (
      await pool.query(
        `SELECT grant_id, category, priority, granted, remaining, status FROM projections.lots
         WHERE account_id = $1 ORDER BY granted_position`,
        [accountId],
      )
    ).rows;
  const entries = async (accountId: string) =>
    (
      await pool.query(
        `SELECT type, amount, balance_after, paid_after, promotional_after, grant_id, lots FROM projections.ledger_entries
         WHERE account_id = $1 ORDER BY position`,
        [accountId],
      )
    ).rows;

  it('draws, returns, expires and voids lots as the events name them', async () => {
    const acc = `acc-${randomUUID()}`;
    const stream = `account-${acc}`;
    const promo = { source: 'promo', category: 'promotional', priority: 50, expiresAt: '2031-01-01T00:00:00.000Z' };
    await given(stream, e('CreditsGranted', { amount: 30, grantId: 'promo-1', ...promo }));
    // A batch of its own: the paid lot's category is read from the table by the debit below.
    await given(
      stream,
      e('CreditsGranted', { amount: 100, source: 'purchase', grantId: 'paid-1', category: 'paid', priority: 50 }),
    );
    const lotsDrawn = [
      { grantId: 'promo-1', amount: 30 },
      { grantId: 'paid-1', amount: 10 },
    ];
    await given(stream, e('Debited', { amount: 40, reason: 'fee', lots: lotsDrawn }));
    expect(await lots(acc)).toEqual([
      {
        grant_id: 'promo-1',
        category: 'promotional',
        priority: 50,
        granted: '30',
        remaining: '0',
        status: 'exhausted',
      },
      { grant_id: 'paid-1', category: 'paid', priority: 50, granted: '100', remaining: '90', status: 'active' },
    ]);
    // The promo lot expired meanwhile: what comes back to it is expired again in the same append.
    await given(
      stream,
      e('Refunded', {
        amount: 15,
        reason: 'goodwill',
        lots: [
          { grantId: 'paid-1', amount: 10 },
          { grantId: 'promo-1', amount: 5 },
        ],
      }),
      e('CreditsExpired', { grantId: 'promo-1', amount: 5 }),
    );
    await given(stream, e('GrantVoided', { grantId: 'paid-1', amount: 100, reason: 'chargeback' }));
    expect(await lots(acc)).toEqual([
      { grant_id: 'promo-1', category: 'promotional', priority: 50, granted: '30', remaining: '0', status: 'expired' },
      { grant_id: 'paid-1', category: 'paid', priority: 50, granted: '100', remaining: '0', status: 'voided' },
    ]);
    expect(await entries(acc)).toEqual([
      {
        type: 'CreditsGranted',
        amount: '30',
        balance_after: '30',
        paid_after: '0',
        promotional_after: '30',
        grant_id: 'promo-1',
        lots: null,
      },
      {
        type: 'CreditsGranted',
        amount: '100',
        balance_after: '130',
        paid_after: '100',
        promotional_after: '30',
        grant_id: 'paid-1',
        lots: null,
      },
      {
        type: 'Debited',
        amount: '40',
        balance_after: '90',
        paid_after: '90',
        promotional_after: '0',
        grant_id: null,
        lots: lotsDrawn,
      },
      {
        type: 'Refunded',
        amount: '15',
        balance_after: '105',
        paid_after: '100',
        promotional_after: '5',
        grant_id: null,
        lots: [
          { grantId: 'paid-1', amount: 10 },
          { grantId: 'promo-1', amount: 5 },
        ],
      },
      {
        type: 'CreditsExpired',
        amount: '5',
        balance_after: '100',
        paid_after: '100',
        promotional_after: '0',
        grant_id: 'promo-1',
        lots: null,
      },
      {
        type: 'GrantVoided',
        amount: '100',
        balance_after: '0',
        paid_after: '0',
        promotional_after: '0',
        grant_id: 'paid-1',
        lots: null,
      },
    ]);
    expect(await accountBalancesTable.byId(pool, acc)).toEqual(
      expect.objectContaining({
        balance: 0,
        totalGranted: 130,
        totalDebited: 40,
        totalRefunded: 15,
        totalExpired: 5,
        totalVoided: 100,
      }),
    );
  });

  it('voids a lot with nothing left: the lot is voided, no ledger entry (no money moved)', async () => {
    const acc = `acc-${randomUUID()}`;
    const stream = `account-${acc}`;
    await given(
      stream,
      e('CreditsGranted', { amount: 5, source: 'promo', grantId: 'g', category: 'promotional', priority: 50 }),
    );
    await given(
      stream,
      e('Debited', { amount: 5, reason: 'fee', lots: [{ grantId: 'g', amount: 5 }] }),
      e('GrantVoided', { grantId: 'g', amount: 0, reason: 'campaign withdrawn' }),
    );
    expect(await lots(acc)).toEqual([
      { grant_id: 'g', category: 'promotional', priority: 50, granted: '5', remaining: '0', status: 'voided' },
    ]);
    expect((await entries(acc)).map((row) => row.type)).toEqual(['CreditsGranted', 'Debited']);
  });

  it('folds events from before lots as DESIGN.md says: paid lots named after their event, drawn by the spending order', async () => {
    const acc = `acc-${randomUUID()}`;
    const stream = `account-${acc}`;
    const [first, second] = [randomUUID(), randomUUID()];
    await given(stream, e('CreditsGranted', { amount: 10, source: 'purchase' }, first));
    await given(
      stream,
      e('CreditsGranted', { amount: 20, source: 'migration' }, second),
      e('Debited', { amount: 25, reason: 'fee' }),
      e('Refunded', { amount: 12, reason: 'goodwill' }),
    );
    // The oldest grant first on the way out, and by the spending order on the way back.
    expect(await lots(acc)).toEqual([
      { grant_id: first, category: 'paid', priority: 50, granted: '10', remaining: '10', status: 'active' },
      { grant_id: second, category: 'paid', priority: 50, granted: '20', remaining: '7', status: 'active' },
    ]);
    expect((await entries(acc)).map((row) => [row.type, row.paid_after, row.promotional_after, row.grant_id])).toEqual([
      ['CreditsGranted', '10', '0', first],
      ['CreditsGranted', '30', '0', second],
      ['Debited', '5', '0', null],
      ['Refunded', '17', '0', null],
    ]);
  });

  it('gives each lot the position of the last event that moved it, whether a run of history is one batch or many', async () => {
    // Written before lots, each account's in one append (one batch live and in a rebuild):
    // each debit (refund) moves a lot the next one does not.
    const [debited, refunded] = [`acc-${randomUUID()}`, `acc-${randomUUID()}`];
    const [a, b, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const grants = (first: string, second: string) => [
      e('CreditsGranted', { amount: 10, source: 'purchase' }, first),
      e('CreditsGranted', { amount: 10, source: 'purchase' }, second),
      e('Debited', { amount: 10, reason: 'fee' }), // all of the first lot
      e('Debited', { amount: 3, reason: 'fee' }), // from the second
    ];
    await given(`account-${debited}`, ...grants(a, b));
    await given(
      `account-${refunded}`,
      ...grants(c, d),
      e('Refunded', { amount: 10, reason: 'goodwill' }), // all back to the first
      e('Refunded', { amount: 2, reason: 'goodwill' }), // to the second
    );
    const positions = async (accountId: string) =>
      (await store.readStream(`account-${accountId}`)).map((event) => event.position.toString());
    const [ofDebited, ofRefunded] = [await positions(debited), await positions(refunded)];
    await expectInEveryBatching(
      [debited, refunded],
      [
        { grant_id: a, remaining: '0', status: 'exhausted', position: ofDebited[2] },
        { grant_id: b, remaining: '7', status: 'active', position: ofDebited[3] },
        { grant_id: c, remaining: '10', status: 'active', position: ofRefunded[4] },
        { grant_id: d, remaining: '9', status: 'active', position: ofRefunded[5] },
      ],
    );
  });

  it('closes a lot as the domain folds its events, whether they are one batch or many', async () => {
    const promo = { source: 'promo', category: 'promotional', priority: 50, expiresAt: '2031-01-01T00:00:00.000Z' };
    const lot = (grantId: string, amount: number) => ({ lots: [{ grantId, amount }] });
    const accounts = {
      // Refunded after its expiry: the part returned expired again, the rest waits for the sweep
      // (the lot stays open); a replica whose clock is behind then spends it: exhausted, not expired.
      spent: [
        e('CreditsGranted', { amount: 10, grantId: 'g', ...promo }),
        e('Debited', { amount: 4, reason: 'fee', ...lot('g', 4) }),
        e('Refunded', { amount: 4, reason: 'goodwill', ...lot('g', 4) }),
        e('CreditsExpired', { grantId: 'g', amount: 4 }),
        e('Debited', { amount: 6, reason: 'fee', ...lot('g', 6) }),
      ],
      // The same, then voided: voided.
      voided: [
        e('CreditsGranted', { amount: 10, grantId: 'g', ...promo }),
        e('Debited', { amount: 4, reason: 'fee', ...lot('g', 4) }),
        e('Refunded', { amount: 4, reason: 'goodwill', ...lot('g', 4) }),
        e('CreditsExpired', { grantId: 'g', amount: 4 }),
        e('GrantVoided', { grantId: 'g', amount: 6, reason: 'fraud' }),
      ],
      // Refunded after its expiry with nothing left: expired again, nothing remains: expired.
      expired: [
        e('CreditsGranted', { amount: 10, grantId: 'g', ...promo }),
        e('Debited', { amount: 10, reason: 'fee', ...lot('g', 10) }),
        e('Refunded', { amount: 3, reason: 'goodwill', ...lot('g', 3) }),
        e('CreditsExpired', { grantId: 'g', amount: 3 }),
      ],
    };
    const ids = Object.fromEntries(Object.keys(accounts).map((name) => [name, `acc-${randomUUID()}`]));
    const expected = [];
    for (const [name, events] of Object.entries(accounts)) {
      await given(`account-${ids[name]}`, ...events);
      // What the domain's fold makes of the stored events, as the table's status names it.
      const stored = await store.readStream(`account-${ids[name]}`);
      const folded = stored.reduce(
        (state, event) => evolveAccount(state, event as unknown as StoredAccountEvent),
        initialAccountState(),
      );
      const { status, remaining } = folded.lots[0]!;
      expected.push({
        grant_id: 'g',
        remaining: String(remaining),
        status: status === 'open' ? (remaining > 0 ? 'active' : 'exhausted') : status,
        position: stored[stored.length - 1]!.position.toString(),
      });
    }
    expect(expected.map((row) => row.status)).toEqual(['exhausted', 'voided', 'expired']);
    await expectInEveryBatching(Object.values(ids), expected);
  });

  /**
   * The accounts' lots, live and rebuilt with every event a batch of its own and with all of
   * them in one batch, are `expected`; and the whole table is the same in all three.
   */
  async function expectInEveryBatching(accounts: readonly string[], expected: readonly object[]): Promise<void> {
    const rows = async (schema: string) =>
      (
        await pool.query(
          `SELECT grant_id, remaining, status, position FROM ${schema}.lots WHERE account_id = ANY($1)
           ORDER BY granted_position`,
          [accounts],
        )
      ).rows;
    expect(await rows(LIVE_SCHEMA)).toEqual(expected);
    for (const batchSizeMax of [1, 10_000]) {
      const rebuilt = await rebuildProjection({ pool, store, projection: lotsProjection, swap: false, batchSizeMax });
      expect(await rows(rebuilt.schema)).toEqual(expected);
      expect(await compareTables(pool, LOTS_TABLE, LIVE_SCHEMA, rebuilt.schema)).toEqual({ onlyLeft: 0, onlyRight: 0 });
      await pool.query(`DROP SCHEMA ${rebuilt.schema} CASCADE`);
    }
  }

  it('lists active lots in the spending order, pages them, sums them, and finds the ones due for expiry', async () => {
    const acc = `acc-${randomUUID()}`;
    const grant = (grantId: string, category: string, priority: number, expiresAt?: string) =>
      e('CreditsGranted', {
        amount: 10,
        source: 'purchase',
        grantId,
        category,
        priority,
        ...(expiresAt ? { expiresAt } : {}),
      });
    await given(
      `account-${acc}`,
      grant('never-paid', 'paid', 50),
      grant('never-promo', 'promotional', 50),
      grant('late', 'paid', 50, '2031-06-01T00:00:00.000Z'),
      grant('soon-paid', 'paid', 50, '2031-01-01T00:00:00.000Z'),
      grant('soon-promo', 'promotional', 50, '2031-01-01T00:00:00.000Z'),
      grant('first', 'paid', 0),
      grant('last', 'promotional', 100, '2030-01-01T00:00:00.000Z'),
    );
    const order = ['first', 'soon-promo', 'soon-paid', 'late', 'never-promo', 'never-paid', 'last'];
    const all = await lotsTable.page(pool, acc, 'active', { limit: 50, after: undefined });
    expect(all.map((k) => k.row.grantId)).toEqual(order);
    const firstPage = await lotsTable.page(pool, acc, 'active', { limit: 3, after: undefined });
    const secondPage = await lotsTable.page(pool, acc, 'active', { limit: 3, after: firstPage[2]!.key });
    expect(secondPage.map((k) => k.row.grantId)).toEqual(order.slice(3, 7));
    expect(await lotsTable.page(pool, acc, 'expired', { limit: 3, after: undefined })).toEqual([]);
    expect(await lotsTable.summary(pool, acc)).toEqual({
      paid: 40,
      promotional: 30,
      expiringNext: { at: '2030-01-01T00:00:00.000Z', amount: 10 },
    });
    const due = await lotsTable.dueForExpiry(pool, new Date('2031-01-01T00:00:00.000Z'), 1_000);
    expect(due.filter((d) => d.accountId === acc).map((d) => d.grantId)).toEqual(['last', 'soon-paid', 'soon-promo']);
    expect(await lotsTable.dueForExpiry(pool, new Date('2031-01-01T00:00:00.000Z'), 1)).toHaveLength(1);
  });

  it("lists active lots in the domain's spending order (compareForSpending), ties and all", async () => {
    const acc = `acc-${randomUUID()}`;
    const expiries = [undefined, '2031-01-01T00:00:00.000Z', '2031-01-01T00:00:00.001Z', '2032-06-01T00:00:00.000Z'];
    const lots: Lot[] = Array.from({ length: 60 }, (_, i) => ({
      grantId: `g-${i}`,
      seq: i,
      category: Math.random() < 0.5 ? 'paid' : 'promotional',
      priority: [0, 50, 50, 100][Math.floor(Math.random() * 4)]!,
      ...(() => {
        const expiresAt = expiries[Math.floor(Math.random() * expiries.length)];
        return expiresAt === undefined ? {} : { expiresAt };
      })(),
      source: 'purchase',
      granted: 1,
      remaining: 1,
      outstanding: 0,
      status: 'open',
    }));
    await given(
      `account-${acc}`,
      ...lots.map((lot) =>
        e('CreditsGranted', {
          amount: 1,
          source: 'purchase',
          grantId: lot.grantId,
          category: lot.category,
          priority: lot.priority,
          ...(lot.expiresAt === undefined ? {} : { expiresAt: lot.expiresAt }),
        }),
      ),
    );
    const listed = await lotsTable.page(pool, acc, 'active', { limit: 100, after: undefined });
    const inOrder = [...lots].sort(compareForSpending).map((lot) => lot.grantId);
    expect(listed.map((k) => k.row.grantId)).toEqual(inOrder);
  });

  it('answers balances at an instant and the entries up to a position', async () => {
    const acc = `acc-${randomUUID()}`;
    const before = new Date();
    await given(
      `account-${acc}`,
      e('CreditsGranted', { amount: 8, source: 'promo', grantId: 'g', category: 'promotional', priority: 50 }),
    );
    const position = await given(
      `account-${acc}`,
      e('Debited', { amount: 3, reason: 'fee', lots: [{ grantId: 'g', amount: 3 }] }),
    );
    const after = new Date(Date.now() + 1_000);
    expect(await ledgerEntriesTable.balancesAt(pool, acc, new Date(before.getTime() - 1_000))).toBeUndefined();
    expect(await ledgerEntriesTable.balancesAt(pool, acc, after)).toEqual({
      balance: 5,
      paid: 0,
      promotional: 5,
      position: Number(position),
    });
    const lines = await ledgerEntriesTable.range(pool, acc, 0, Number(position), 100);
    expect(lines.map((line) => [line.type, line.amount, line.balanceAfter, line.promotionalAfter])).toEqual([
      ['CreditsGranted', 8, 8, 8],
      ['Debited', 3, 5, 5],
    ]);
    expect(lines[1]).toEqual(expect.objectContaining({ lots: [{ grantId: 'g', amount: 3 }] }));
  });
});
