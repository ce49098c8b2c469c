/**
 * Decision cost against the number of lots (issue 12): a debit on an account with one
 * active lot and one with 1,000 (the bound), alternately, through the service over
 * HTTP; and a project start that draws over 10 lots next to one that draws from one.
 * The lots are appended straight to the log, as the service writes them. Then the account's
 * fold and decisions alone, in this process (bench/lots-fold.ts).
 */
import { randomUUID } from 'node:crypto';
import { PostgresEventStore } from '@ledger/event-store';
import { accountStream } from '@ledger/domain';
import { measureLotsFold, type LotsFoldResult } from './lots-fold.js';
import { timedPost, type BenchService } from './service.js';

export interface LotsResult {
  debitOneLotP50Ms: number;
  debitThousandLotsP50Ms: number;
  /** Target: within 2x. */
  thousandOverOne: number;
  startOneLotP50Ms: number;
  startTenLotsP50Ms: number;
  tenOverOne: number;
  /** The same in this process, the account's fold and decisions alone (bench/lots-fold.ts). */
  fold: LotsFoldResult;
}

const FAR = '2099-01-01T00:00:00.000Z';

function lot(amount: number, index: number) {
  // Both categories, a few priorities and expiries: the spending order has work to do.
  return {
    id: randomUUID(),
    type: 'CreditsGranted',
    data: {
      amount,
      source: index % 2 === 0 ? 'purchase' : 'promo',
      grantId: `g-${randomUUID()}`,
      category: index % 2 === 0 ? 'paid' : 'promotional',
      priority: 40 + (index % 3) * 10,
      ...(index % 4 === 0 ? {} : { expiresAt: new Date(Date.parse(FAR) - index * 60_000).toISOString() }),
    },
  };
}

async function grantLots(store: PostgresEventStore, accountId: string, count: number, amount: number): Promise<void> {
  for (let done = 0; done < count; done += 500) {
    const events = Array.from({ length: Math.min(500, count - done) }, (_, i) => lot(amount, done + i));
    await store.append([{ streamName: accountStream(accountId), expectedRevision: 'any', events }]);
  }
}

const post = (service: BenchService, path: string, body: object) => timedPost(service, path, body);

const p50 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function measureLots(service: BenchService, samples: number): Promise<LotsResult> {
  const store = await PostgresEventStore.connect({ connectionString: service.databaseUrl, poolSize: 2 });
  try {
    const one = `lots-1-${randomUUID()}`;
    const thousand = `lots-1000-${randomUUID()}`;
    // Enough for every debit and start below without exhausting a lot of the thousand.
    await grantLots(store, one, 1, 1_000_000);
    await grantLots(store, thousand, 1_000, 1_000_000);
    const debit = (accountId: string) =>
      post(service, `/v1/accounts/${accountId}/debits`, { amount: 1, reason: 'bench' });
    // The first decision of each folds its stream: left out.
    await debit(one);
    await debit(thousand);
    const debits = { one: [] as number[], thousand: [] as number[] };
    for (let i = 0; i < samples; i++) {
      debits.one.push(await debit(one));
      debits.thousand.push(await debit(thousand));
    }
    // A start over 10 lots: each sample first gets 10 lots of 10 credits (granted through
    // the service, so its cached state is current), then spends 100.
    const ten = `lots-10-${randomUUID()}`;
    const start = (accountId: string, cost: number) =>
      post(service, '/v1/projects', { projectId: `lp-${randomUUID()}`, accountId, cost });
    const tenLots = async () => {
      for (let i = 0; i < 10; i++) {
        await post(service, `/v1/accounts/${ten}/grants`, { amount: 10, source: 'purchase', priority: 40 + i });
      }
    };
    await tenLots();
    await start(ten, 100);
    const starts = { one: [] as number[], ten: [] as number[] };
    for (let i = 0; i < samples; i++) {
      await tenLots();
      starts.ten.push(await start(ten, 100));
      starts.one.push(await start(one, 1));
    }
    const result = {
      debitOneLotP50Ms: p50(debits.one),
      debitThousandLotsP50Ms: p50(debits.thousand),
      startOneLotP50Ms: p50(starts.one),
      startTenLotsP50Ms: p50(starts.ten),
    };
    return {
      ...result,
      thousandOverOne: result.debitThousandLotsP50Ms / result.debitOneLotP50Ms,
      tenOverOne: result.startTenLotsP50Ms / result.startOneLotP50Ms,
      fold: measureLotsFold(samples * 40),
    };
  } finally {
    await store.close();
  }
}
