/**
 * The account's fold and decisions against the number of lots, in this process (no HTTP,
 * no database): what `bench/lots.ts` measures through the service, without the noise of
 * the command path around it. A fold of 1,000 and 10,000 grants (the active and the kept
 * bound); a debit of 1 credit decided and folded as the command executor does (decide,
 * then fold the decision's events on the state decided on) on an account with 1 lot and
 * one with 1,000, alternately; a project start drawing over 10 lots next to one from 1 lot.
 * In CPU time, best of a few runs for a fold, the median of batches of 20 for a decision.
 *
 *   npx tsx bench/lots-fold.ts   (also part of `npm run bench`)
 */
import {
  decideAccount,
  decideStartProject,
  evolveAccount,
  initialAccountState,
  initialProjectState,
  type AccountEvent,
  type AccountState,
} from '@ledger/domain';

export interface LotsFoldResult {
  foldThousandGrantsMs: number;
  foldTenThousandGrantsMs: number;
  /** Per grant, 10,000 over 1,000: 1 when the fold is linear in the grants. */
  foldPerGrantGrowth: number;
  debitOneLotP50Us: number;
  debitThousandLotsP50Us: number;
  thousandOverOne: number;
  startOneLotP50Us: number;
  startTenLotsP50Us: number;
  tenOverOne: number;
}

const FAR_MS = Date.parse('2099-01-01T00:00:00.000Z');
const NOW = new Date('2030-01-01T00:00:00.000Z');

/** As bench/lots.ts grants them: both categories, a few priorities and expiries. */
function grant(index: number, amount: number, prefix = 'g'): AccountEvent {
  return {
    type: 'CreditsGranted',
    data: {
      amount,
      source: index % 2 === 0 ? 'purchase' : 'promo',
      grantId: `${prefix}-${index}`,
      category: index % 2 === 0 ? 'paid' : 'promotional',
      priority: 40 + (index % 3) * 10,
      ...(index % 4 === 0 ? {} : { expiresAt: new Date(FAR_MS - index * 60_000).toISOString() }),
    },
  };
}

const fold = (events: readonly AccountEvent[], state = initialAccountState()) => events.reduce(evolveAccount, state);

const START_SAMPLES = 150;

const p50 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * CPU time (this process's, user and system) in µs: six other jobs share the machine's two
 * cores, and wall time here is mostly theirs. (`process.cpuUsage` counts microseconds.)
 */
function cpuUs(run: () => void): number {
  const before = process.cpuUsage();
  run();
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

/** The best of `rounds` runs of `run`, in ms of CPU: the least disturbed run is the figure. */
function bestOf(rounds: number, run: () => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < rounds; i++) best = Math.min(best, cpuUs(run) / 1000);
  return best;
}

/** Decisions are timed in batches of this many (the CPU clock counts microseconds), each batch's mean. */
const BATCH = 20;

/** A decision as the executor makes it: decide on the state, then fold its events on that same state. */
function debit(state: AccountState): AccountState {
  const decision = decideAccount(state, { type: 'DebitCredits', accountId: 'a', amount: 1, reason: 'bench', now: NOW });
  return decision.account.reduce(evolveAccount, state);
}

export function measureLotsFold(samples: number): LotsFoldResult {
  const thousand = Array.from({ length: 1_000 }, (_, i) => grant(i, 1_000_000));
  const tenThousand = Array.from({ length: 10_000 }, (_, i) => grant(i, 1_000_000));
  fold(thousand); // warm up
  const foldThousandGrantsMs = bestOf(5, () => fold(thousand));
  const foldTenThousandGrantsMs = bestOf(3, () => fold(tenThousand));

  let one = fold([grant(0, 1_000_000_000)]);
  let many = fold(thousand);
  for (let i = 0; i < 200; i++) [one, many] = [debit(one), debit(many)]; // warm up
  const debits = { one: [] as number[], many: [] as number[] };
  for (let i = 0; i < samples / BATCH; i++) {
    debits.one.push(
      cpuUs(() => {
        for (let k = 0; k < BATCH; k++) one = debit(one);
      }) / BATCH,
    );
    debits.many.push(
      cpuUs(() => {
        for (let k = 0; k < BATCH; k++) many = debit(many);
      }) / BATCH,
    );
  }

  // Starts: each over 10 fresh lots of 10 credits (priorities ahead of the rest), or from the 1
  // lot. As in bench/lots.ts, the spent lots stay (an account keeps them): 150 starts leave 1,500.
  const starts = { one: [] as number[], ten: [] as number[] };
  let ten = fold(thousand.slice(0, 1));
  for (let i = 0; i < START_SAMPLES; i++) {
    ten = fold(
      Array.from({ length: 10 }, (_, k) => ({
        type: 'CreditsGranted' as const,
        data: {
          amount: 10,
          source: 'purchase' as const,
          grantId: `t-${i}-${k}`,
          category: 'paid' as const,
          priority: k,
        },
      })),
      ten,
    );
    // One start each (a start over 10 lots spends them): timed with the fold of its events, as the executor folds them.
    for (const [kind, cost] of [
      ['ten', 100],
      ['one', 1],
    ] as const) {
      const account = kind === 'ten' ? ten : one;
      let next = account;
      const used = cpuUs(() => {
        for (let k = 0; k < BATCH; k++) {
          const decision = decideStartProject(account, initialProjectState(), {
            type: 'StartProject',
            projectId: `p-${kind}-${i}-${k}`,
            accountId: 'a',
            cost,
            now: NOW,
          });
          next = decision.account.reduce(evolveAccount, account);
        }
      });
      starts[kind].push(used / BATCH);
      if (kind === 'ten') ten = next;
      else one = next;
    }
  }
  const result = {
    foldThousandGrantsMs,
    foldTenThousandGrantsMs,
    foldPerGrantGrowth: foldTenThousandGrantsMs / 10_000 / (foldThousandGrantsMs / 1_000),
    debitOneLotP50Us: p50(debits.one),
    debitThousandLotsP50Us: p50(debits.many),
    startOneLotP50Us: p50(starts.one),
    startTenLotsP50Us: p50(starts.ten),
  };
  return {
    ...result,
    thousandOverOne: result.debitThousandLotsP50Us / result.debitOneLotP50Us,
    tenOverOne: result.startTenLotsP50Us / result.startOneLotP50Us,
  };
}

export function formatLotsFold(r: LotsFoldResult): string {
  return (
    `account fold (in process): ${r.foldThousandGrantsMs.toFixed(1)} ms for 1,000 grants, ${r.foldTenThousandGrantsMs.toFixed(1)} ms for 10,000 ` +
    `(per grant ${r.foldPerGrantGrowth.toFixed(2)}x); decide+fold a debit p50 ${r.debitOneLotP50Us.toFixed(1)} µs with 1 lot, ` +
    `${r.debitThousandLotsP50Us.toFixed(1)} µs with 1,000 (${r.thousandOverOne.toFixed(2)}x); a start p50 ${r.startOneLotP50Us.toFixed(1)} µs ` +
    `from 1 lot, ${r.startTenLotsP50Us.toFixed(1)} µs over 10 (${r.tenOverOne.toFixed(2)}x)`
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(formatLotsFold(measureLotsFold(2_000)));
}
