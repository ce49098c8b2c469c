/**
 * Projection catch-up: replays a log of 200,000+ ledger events into empty
 * read models and reports events per second, next to a baseline measured in
 * the same run on the same server: batched multi-row INSERTs of the same
 * number of rows (the least a projection must write). Also reports the CPU
 * this process (the projector, nothing else runs in it meanwhile) spent per
 * event: what catch-up costs the service it runs in.
 *
 * The main figure replays events as today's code writes them: built by the domain's
 * deciders (grants with grantId, category and priority; debits, refunds and
 * ProjectStarted naming their lots), so the format can't drift from the service's.
 * A second, labelled figure replays events written before lots (grants without lot
 * fields, debits and refunds naming no lot), which the lots projection draws by the
 * spending order itself.
 *
 *   npm run bench:catch-up [-- --events 200000] [-- --only current|before-lots]
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import pg from 'pg';
import {
  accountStream,
  decideCompleteProject,
  decideFailProject,
  decideGrantCredits,
  decideStartProject,
  decideClaimProject,
  evolveAccount,
  evolveProject,
  initialAccountState,
  initialProjectState,
  projectStream,
  type AccountState,
  type DomainEvent,
  type ProjectDecision,
  type ProjectState,
} from '@ledger/domain';
import { PostgresEventStore, type EventToAppend, type StreamAppend } from '@ledger/event-store';
import { Projector } from '@ledger/projections';
import { benchDatabase } from './support.js';

const argument = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
};
const EVENTS = argument('events', 200_000);
const ACCOUNTS = 2_000;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** `current`: events as today's deciders write them; `before-lots`: as written before lots (no lot named). */
export type EventFormat = 'current' | 'before-lots';
export const FORMAT_LABELS: Record<EventFormat, string> = {
  current: 'catch-up',
  'before-lots': 'catch-up of events written before lots',
};

export interface CatchUpResult {
  format: EventFormat;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  baselineRowsPerSecond: number;
  ratio: number;
  /** CPU time of this process (user + system) per replayed event. */
  projectorCpuMicrosPerEvent: number;
}

/** Seeds `events` into the empty database at `url`, then times a projector replaying them from zero. */
export async function measureCatchUp(
  url: string,
  events: number,
  format: EventFormat = 'current',
): Promise<CatchUpResult> {
  const store = await PostgresEventStore.connect({ connectionString: url, poolSize: 4 });
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // Stopping the embedded server terminates idle connections: not a failure of the measurement.
  pool.on('error', () => undefined);
  try {
    const seeded = await (format === 'current' ? seed : seedBeforeLots)(store, events);
    const replay = await timeReplay(url, store, pool, seeded);
    const baseline = await insertBaseline(pool, seeded);
    return {
      format,
      ...replay,
      baselineRowsPerSecond: baseline,
      ratio: replay.eventsPerSecond / baseline,
    };
  } finally {
    await store.close();
    await pool.end();
  }
}

export interface ReplayResult {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** CPU time of this process (user + system) per replayed event. */
  projectorCpuMicrosPerEvent: number;
}

/** Times a projector in this process replaying the log at `url` (of `events` events) into empty read models. */
export async function timeReplay(
  url: string,
  store: PostgresEventStore,
  pool: pg.Pool,
  events: number,
): Promise<ReplayResult> {
  const head = await store.headPosition();
  log(`replaying ${events} events into empty read models ...`);
  const projector = new Projector({ pool, connectionString: url, store, log: quiet });
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await projector.start();
  const progress = setInterval(() => {
    const done = projector.status().reduce((min, s) => (s.checkpoint < min ? s.checkpoint : min), head);
    log(`  ${((Number(done) / Number(head)) * 100).toFixed(0)}%`);
  }, 2_000);
  await projector.caughtUp(head).finally(() => clearInterval(progress));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  await projector.stop();
  return {
    events,
    seconds,
    eventsPerSecond: events / seconds,
    projectorCpuMicrosPerEvent: (cpu.user + cpu.system) / events,
  };
}

/** One line per figure, as `npm run bench:catch-up` prints it. */
export function describeCatchUp(result: CatchUpResult): string {
  return (
    `${FORMAT_LABELS[result.format]}: ${result.events} events in ${result.seconds.toFixed(1)} s = ${result.eventsPerSecond.toFixed(0)} events/s; ` +
    `baseline (100-row INSERTs from Node) ${result.baselineRowsPerSecond.toFixed(0)} rows/s; ratio ${result.ratio.toFixed(2)}; ` +
    `projector CPU ${result.projectorCpuMicrosPerEvent.toFixed(1)} µs/event`
  );
}

async function main(): Promise<void> {
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  const formats = (['current', 'before-lots'] as const).filter((f) => only === undefined || only === f);
  if (formats.length === 0) throw new Error(`--only takes current or before-lots, not ${only}`);
  const database = await benchDatabase();
  try {
    const results: CatchUpResult[] = [];
    for (const format of formats) {
      const name = format === 'current' ? 'bench_catch_up' : 'bench_catch_up_before_lots';
      const result = await measureCatchUp(await database.createDatabase(name), EVENTS, format);
      console.log(describeCatchUp(result));
      results.push(result);
    }
    const [main, ...others] = results;
    await writeFile(
      'bench/results/catch-up.json',
      JSON.stringify(
        {
          at: new Date().toISOString(),
          ...main,
          ...(others.length > 0 ? { beforeLots: others[0] } : {}),
        },
        null,
        2,
      ),
    );
  } finally {
    await database.close();
  }
}

/**
 * As the service writes them, built by the domain's deciders: each account gets a small
 * promotional lot spent first (so debits and refunds come to span two lots) and a large
 * paid one; then projects start (debit and ProjectStarted naming their lots), get claimed
 * and complete or fail (refunds naming their lots, in a later append, as in the service).
 * Each batch's starts are decided before its finishes, in the order the log holds them.
 */
export async function seed(store: PostgresEventStore, events = EVENTS): Promise<number> {
  let appended = 0;
  let clock = Date.parse('2026-01-01T00:00:00.000Z');
  const now = () => new Date((clock += 1000));
  const accounts: AccountState[] = Array.from({ length: ACCOUNTS }, () => initialAccountState());
  const grants: StreamAppend[] = [];
  for (let a = 0; a < ACCOUNTS; a++) {
    const accountId = `a${a}`;
    const decided: DomainEvent<string, Record<string, unknown>>[] = [];
    for (const [amount, source, priority] of [
      [300, 'promo', 10],
      [1_000_000, 'purchase', 50],
    ] as const) {
      const decision = decideGrantCredits(accounts[a]!, {
        type: 'GrantCredits',
        accountId,
        amount,
        source,
        grantId: randomUUID(),
        priority,
        ...(source === 'promo' ? { expiresAt: '2030-01-01T00:00:00.000Z' } : {}),
        now: now(),
      });
      accounts[a] = decision.account.reduce(evolveAccount, accounts[a]!);
      decided.push(...decision.account);
    }
    grants.push({ streamName: accountStream(accountId), expectedRevision: 'any', events: decided.map(stored) });
  }
  for (let i = 0; i < grants.length; i += 200) appended += await append(store, grants.slice(i, i + 200));
  while (appended < events) {
    const batch: StreamAppend[] = [];
    const refunds: StreamAppend[] = [];
    const started: { a: number; projectId: string; cost: number; project: ProjectState }[] = [];
    const apply = (a: number, project: ProjectState, decision: ProjectDecision<unknown>): ProjectState => {
      accounts[a] = decision.account.reduce(evolveAccount, accounts[a]!);
      return decision.project.reduce(evolveProject, project);
    };
    for (let k = 0; k < 60; k++) {
      const a = Math.floor(Math.random() * ACCOUNTS);
      const accountId = `a${a}`;
      const projectId = randomUUID();
      const cost = 1 + Math.floor(Math.random() * 50);
      const start = decideStartProject(accounts[a]!, initialProjectState(), {
        type: 'StartProject',
        projectId,
        accountId,
        cost,
        now: now(),
      });
      let project = apply(a, initialProjectState(), start);
      const claim = decideClaimProject(project, {
        type: 'ClaimProject',
        projectId,
        workerId: 'w',
        leaseSeconds: 3600,
        now: now(),
      });
      project = apply(a, project, claim);
      batch.push(
        { streamName: accountStream(accountId), expectedRevision: 'any', events: start.account.map(stored) },
        {
          streamName: projectStream(projectId),
          expectedRevision: 'no_stream',
          events: [...start.project, ...claim.project].map(stored),
        },
      );
      started.push({ a, projectId, cost, project });
    }
    // The finishes, decided after every start of the batch: the log holds them after.
    for (const { a, projectId, cost, project } of started) {
      const accountId = `a${a}`;
      const used = Math.floor(Math.random() * (cost + 1));
      const finish =
        Math.random() < 0.2
          ? decideFailProject(accounts[a]!, project, {
              type: 'FailProject',
              projectId,
              attempt: 1,
              code: 'failed',
              errorMessage: 'boom',
              now: now(),
            })
          : decideCompleteProject(accounts[a]!, project, {
              type: 'CompleteProject',
              projectId,
              attempt: 1,
              creditsUsed: used,
              assets: { assetUrl: 'https://cdn.test/a' },
              now: now(),
            });
      apply(a, project, finish);
      const projectAppend = batch.find((s) => s.streamName === projectStream(projectId))!;
      projectAppend.events.push(...finish.project.map(stored));
      // A refund follows its project's end, as in the service: in a later append.
      if (finish.account.length > 0)
        refunds.push({
          streamName: accountStream(accountId),
          expectedRevision: 'any',
          events: finish.account.map(stored),
        });
    }
    // One account may appear twice in a batch: merge its events so each stream appears once.
    appended += await append(store, merge(batch));
    if (refunds.length > 0) appended += await append(store, merge(refunds));
    if (appended % 20_000 < 400) log(`seeded ${appended}/${events}`);
  }
  return appended;
}

function stored(decided: DomainEvent<string, Record<string, unknown>>): EventToAppend {
  return event(decided.type, decided.data);
}

/**
 * As written before lots (DESIGN.md): grants without grantId, category or priority, and
 * debits, refunds and ProjectStarted naming no lot. Grants, and projects that start (with
 * their debit), get claimed and complete or fail (with refunds).
 */
export async function seedBeforeLots(store: PostgresEventStore, events = EVENTS): Promise<number> {
  let appended = 0;
  const grant: StreamAppend[] = Array.from({ length: ACCOUNTS }, (_, a) => ({
    streamName: `account-a${a}`,
    expectedRevision: 'any',
    events: [event('CreditsGranted', { amount: 1_000_000, source: 'purchase' })],
  }));
  for (let i = 0; i < grant.length; i += 200) appended += await append(store, grant.slice(i, i + 200));
  while (appended < events) {
    const batch: StreamAppend[] = [];
    const refunds: StreamAppend[] = [];
    for (let k = 0; k < 60; k++) {
      const accountId = `a${Math.floor(Math.random() * ACCOUNTS)}`;
      const projectId = randomUUID();
      const cost = 1 + Math.floor(Math.random() * 50);
      const used = Math.floor(Math.random() * (cost + 1));
      const failed = Math.random() < 0.2;
      batch.push(
        {
          streamName: `account-${accountId}`,
          expectedRevision: 'any',
          events: [event('Debited', { amount: cost, projectId, reason: 'project_started' })],
        },
        {
          streamName: `project-${projectId}`,
          expectedRevision: 'no_stream',
          events: [
            event('ProjectStarted', { accountId, cost, deadlineAt: '2030-01-01T00:00:00.000Z' }),
            event('ProjectClaimed', { attempt: 1, workerId: 'w', leaseExpiresAt: '2030-01-01T00:00:00.000Z' }),
            failed
              ? event('ProjectFailed', { attempt: 1, code: 'failed', errorMessage: 'boom' })
              : event('ProjectCompleted', {
                  attempt: 1,
                  creditsUsed: used,
                  assets: { assetUrl: 'https://cdn.test/a' },
                }),
          ],
        },
      );
      // A refund follows its project's end, as in the service: in a later append.
      if (failed || used < cost) {
        refunds.push({
          streamName: `account-${accountId}`,
          expectedRevision: 'any',
          events: [
            event('Refunded', {
              amount: failed ? cost : cost - used,
              projectId,
              reason: failed ? 'project_failed' : 'partial_use',
            }),
          ],
        });
      }
    }
    // One account may appear twice in a batch: merge its events so each stream appears once.
    appended += await append(store, merge(batch));
    if (refunds.length > 0) appended += await append(store, merge(refunds));
    if (appended % 20_000 < 400) log(`seeded ${appended}/${events}`);
  }
  return appended;
}

function merge(batch: StreamAppend[]): StreamAppend[] {
  const byStream = new Map<string, StreamAppend>();
  for (const s of batch) {
    const existing = byStream.get(s.streamName);
    if (existing) existing.events.push(...s.events);
    else byStream.set(s.streamName, { ...s, events: [...s.events] });
  }
  return [...byStream.values()];
}

async function append(store: PostgresEventStore, streams: StreamAppend[]): Promise<number> {
  await store.append(streams);
  return streams.reduce((n, s) => n + s.events.length, 0);
}

function event(type: string, data: Record<string, unknown>): EventToAppend {
  return { id: randomUUID(), type, data };
}

/**
 * The floor: the same number of rows sent from Node as multi-row INSERTs of
 * 100 rows (values on the wire, as a projection must send them), one
 * transaction per 1,000 rows.
 */
export async function insertBaseline(pool: pg.Pool, rows: number): Promise<number> {
  await pool.query(
    'CREATE TABLE bench_baseline (position bigint PRIMARY KEY, account_id text, amount bigint, at timestamptz)',
  );
  const started = performance.now();
  const at = new Date().toISOString();
  for (let done = 0; done < rows; done += 1000) {
    const statements: string[] = [];
    for (let chunk = done; chunk < Math.min(rows, done + 1000); chunk += 100) {
      const values: string[] = [];
      for (let i = chunk; i < Math.min(rows, chunk + 100); i++)
        values.push(`(${i + 1}, 'a${i % 2000}', ${i % 50}, '${at}')`);
      statements.push(`INSERT INTO bench_baseline VALUES ${values.join(', ')}`);
    }
    await pool.query(`BEGIN; ${statements.join('; ')}; COMMIT`);
  }
  return rows / ((performance.now() - started) / 1000);
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
