/**
 * Scale (issue 18): `npm run bench -- --scale [--scale-events 10000000] [--scale-base 100000]`.
 * Not part of CI. A log of `--scale-base` events and one of `--scale-events`, each in its
 * own database of one embedded PostgreSQL (or DATABASE_URL's server):
 *
 *   1. each log is seeded straight into the event store's tables (multi-row INSERT … SELECT
 *      FROM unnest, secondary indexes dropped and rebuilt after, as a restore would);
 *   2. catch-up: a projector replays each whole log into empty read models, timed;
 *   3. the service runs on each log (two processes): start throughput (16 connections) and
 *      decision latency (debit p50 on accounts of the log: the first decision of each, which
 *      folds its stream, and warm ones after), alternated between the two in rounds;
 *   4. a reconciliation of each whole log through the service, timed;
 *
 * and each figure at the large log is reported ÷ the same at the small one.
 *
 * The log is in today's format, built by the domain's deciders as the service writes it:
 * every command's events carry the service's metadata and its idempotency record
 * (CommandRecorded), in the order of an append. Accounts grow with the log (one per 250
 * events), so account streams are as long at 10M as at 100k: what grows is the log.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import pg from 'pg';
import {
  accountStream,
  decideClaimProject,
  decideCompleteProject,
  decideFailProject,
  decideGrantCredits,
  decideStartProject,
  evolveAccount,
  evolveProject,
  idempotencyStream,
  initialAccountState,
  initialProjectState,
  projectStream,
  type AccountState,
  type DomainEvent,
} from '@ledger/domain';
import { PostgresEventStore } from '@ledger/event-store';
import { timeReplay, type ReplayResult } from './catch-up.js';
import { combineLoads, load, type LoadResult } from './load.js';
import {
  BENCH_KEY,
  createDatabase,
  seedAccounts,
  startService,
  timedPost,
  watchRss,
  type BenchService,
} from './service.js';
import { benchDatabase } from './support.js';

export interface ScaleOptions {
  /** The large log (default 10,000,000 events). */
  events: number;
  /** The log it is compared with (default 100,000 events). */
  baseEvents: number;
  /** Seconds of start load per log. */
  seconds: number;
  /** Debits sampled for the warm decision latency. */
  samples: number;
}

interface ScaleFigures {
  events: number;
  accounts: number;
  seedSeconds: number;
  /** The database's size after seeding and catch-up (log, indexes, read models). */
  databaseMb: number;
  catchUp: ReplayResult;
  start: LoadResult & { peakRssMb: number };
  decision: { firstP50Ms: number; warmP50Ms: number; warmP99Ms: number };
  reconciliation: {
    seconds: number;
    clean: boolean;
    checkedAccounts: number;
    checkedProjects: number;
    /** Why it did not complete, if it didn't. */
    error?: string;
  };
  /** The service's peak resident memory before the reconciliation, and after it. */
  servicePeakRssMb: { beforeReconciliation: number; after: number };
}

/** Bytes of disk to ask for per seeded event: its row and indexes, its read-model rows, WAL (see the README). */
const DISK_PER_EVENT = 2_500;
const EVENTS_PER_ACCOUNT = 250;
const CALLER = 'bench';

export async function runScale(options: ScaleOptions): Promise<void> {
  const free = await statfs(tmpdir());
  const needed = DISK_PER_EVENT * (options.events + options.baseEvents);
  if (free.bavail * free.bsize < needed)
    throw new Error(
      `--scale needs about ${(needed / 2 ** 30).toFixed(1)} GiB free under ${tmpdir()}, ` +
        `${((free.bavail * free.bsize) / 2 ** 30).toFixed(1)} GiB are: try a smaller --scale-events`,
    );
  const server = await benchDatabase();
  let figures: [ScaleFigures, ScaleFigures];
  try {
    const logs: Prepared[] = [];
    for (const [name, events] of [
      ['bench_scale_base', options.baseEvents],
      ['bench_scale_large', options.events],
    ] as const) {
      log(`scale: a log of ${events} events ...`);
      logs.push(await prepare(await createDatabase(server.url, name), events));
    }
    figures = await measureBoth(logs as [Prepared, Prepared], options);
  } finally {
    // Stopping the server removes its data folder, and with it both logs.
    await server.close();
  }
  const [base, large] = figures;
  const report = {
    at: new Date().toISOString(),
    base,
    large,
    ratios: {
      startThroughput: large.start.perSecond / base.start.perSecond,
      startP50: large.start.p50Ms / base.start.p50Ms,
      decisionWarmP50: large.decision.warmP50Ms / base.decision.warmP50Ms,
      decisionFirstP50: large.decision.firstP50Ms / base.decision.firstP50Ms,
      catchUpEventsPerSecond: large.catchUp.eventsPerSecond / base.catchUp.eventsPerSecond,
      reconciliationEventsPerSecond:
        large.events / large.reconciliation.seconds / (base.events / base.reconciliation.seconds),
    },
  };
  print(report);
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/scale.json', JSON.stringify(report, null, 2));
  log('written bench/results/scale.json');
}

/** A seeded, caught-up log. */
export interface Prepared {
  url: string;
  events: number;
  accounts: number;
  seedSeconds: number;
  databaseMb: number;
  catchUp: ReplayResult;
}

/** Seeds a log of `events` events into the empty database at `url`, then times its catch-up. */
export async function prepare(url: string, events: number): Promise<Prepared> {
  const accounts = Math.max(100, Math.round(events / EVENTS_PER_ACCOUNT));
  const seedStarted = performance.now();
  const store = await PostgresEventStore.connect({ connectionString: url, poolSize: 4 });
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => undefined);
  try {
    const seeded = await seedLog(pool, events, accounts);
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    log(`  seeded ${seeded} events over ${accounts} accounts in ${seedSeconds.toFixed(0)} s; catch-up ...`);
    const catchUp = await timeReplay(url, store, pool, seeded);
    const { rows } = await pool.query<{ bytes: string }>('SELECT pg_database_size(current_database())::text AS bytes');
    const databaseMb = Number(rows[0]!.bytes) / 2 ** 20;
    log(`  caught up in ${catchUp.seconds.toFixed(0)} s; the database now takes ${databaseMb.toFixed(0)} MB`);
    return { url, events: seeded, accounts, seedSeconds, databaseMb, catchUp };
  } finally {
    await store.close();
    await pool.end();
  }
}

/**
 * The service on each log, both running: start load and debits alternated between them
 * (rounds of one then the other, so drift on a shared machine falls on both), then a
 * reconciliation of each.
 */
async function measureBoth(logs: [Prepared, Prepared], options: ScaleOptions): Promise<[ScaleFigures, ScaleFigures]> {
  log('the service on each log: start throughput and decision latency, alternated; then reconciliation ...');
  const services: BenchService[] = [];
  try {
    for (const prepared of logs) {
      const service = await startService({ databaseUrl: prepared.url });
      services.push(service);
      await seedAccounts(service);
    }
    const rounds = 3;
    const loads: LoadResult[][] = [[], []];
    const loadRss = [0, 0];
    for (let round = 0; round < rounds; round++) {
      for (const k of [0, 1] as const) {
        const rss = watchRss(services[k]!.pid);
        loads[k]!.push(await load(services[k]!.url, 'start', 16, options.seconds, { accounts: 1000 }));
        loadRss[k] = Math.max(loadRss[k]!, await rss.stop());
      }
    }
    const debit = (k: number, a: number) =>
      timedPost(services[k]!, `/v1/accounts/scale-${a}/debits`, { amount: 1, reason: 'bench' });
    const sampledOf = (accounts: number) =>
      Array.from({ length: Math.min(40, accounts) }, (_, i) => Math.floor((i * accounts) / 40));
    const sampled = logs.map((l) => sampledOf(l.accounts));
    const first: number[][] = [[], []];
    const warm: number[][] = [[], []];
    for (let i = 0; i < sampled[0]!.length; i++)
      for (const k of [0, 1]) first[k]!.push(await debit(k, sampled[k]![i % sampled[k]!.length]!));
    for (let i = 0; i < options.samples; i++)
      for (const k of [0, 1]) warm[k]!.push(await debit(k, sampled[k]![i % sampled[k]!.length]!));

    const figures: ScaleFigures[] = [];
    for (const k of [0, 1] as const) {
      const rssBeforeReconciliation = await services[k]!.peakRssMb();
      const reconciliation = await reconcile(services[k]!);
      const { url: _url, ...prepared } = logs[k]!;
      figures.push({
        ...prepared,
        start: { ...combineLoads(loads[k]!), peakRssMb: loadRss[k]! },
        decision: {
          firstP50Ms: quantile(first[k]!, 0.5),
          warmP50Ms: quantile(warm[k]!, 0.5),
          warmP99Ms: quantile(warm[k]!, 0.99),
        },
        reconciliation,
        servicePeakRssMb: { beforeReconciliation: rssBeforeReconciliation, after: await services[k]!.peakRssMb() },
      });
    }
    return figures as [ScaleFigures, ScaleFigures];
  } finally {
    for (const service of services) await service.stop();
  }
}

/**
 * A reconciliation of the whole log through the service, timed. It folds every account and
 * project of the log in the service's memory: on a large log it may fail (the service out of
 * memory), which is reported, not fatal, so the other figures stand.
 */
async function reconcile(service: BenchService): Promise<ScaleFigures['reconciliation']> {
  const started = performance.now();
  try {
    // full=true: the whole fold for this call (the default answers from the continuous check).
    const response = await fetch(`${service.url}/v1/audit/reconciliation?full=true`, {
      headers: { authorization: `Bearer ${BENCH_KEY}` },
      signal: AbortSignal.timeout(3_600_000),
    });
    if (response.status !== 200) throw new Error(`${response.status} ${await response.text()}`);
    const report = (await response.json()) as {
      mismatchCount: number;
      violationCount: number;
      checkedAccounts: number;
      checkedProjects: number;
    };
    const clean = report.mismatchCount === 0 && report.violationCount === 0;
    if (!clean) log(`  reconciliation NOT clean: ${JSON.stringify(report).slice(0, 2000)}`);
    return {
      seconds: (performance.now() - started) / 1000,
      clean,
      checkedAccounts: report.checkedAccounts,
      checkedProjects: report.checkedProjects,
    };
  } catch (error) {
    log(`  reconciliation failed: ${String(error)}`);
    return { seconds: NaN, clean: false, checkedAccounts: 0, checkedProjects: 0, error: String(error) };
  }
}
/**
 * Writes a log of at least `events` events: `accounts` accounts with a small promotional
 * lot (spent first) and a large paid one, then projects started, claimed and completed or
 * failed (with their refunds), one command after another, each command's events with its
 * metadata and idempotency record. Answers the number of events written.
 */
async function seedLog(pool: pg.Pool, events: number, accounts: number): Promise<number> {
  const writer = new LogWriter(pool);
  await writer.dropSecondaryIndexes();
  let clock = Date.parse('2026-01-01T00:00:00.000Z');
  const now = () => new Date((clock += 100));
  const states: AccountState[] = Array.from({ length: accounts }, () => initialAccountState());
  const revisions = new Array<number>(accounts).fill(-1);
  const accountEvents = (a: number, decided: readonly DomainEvent<string, Record<string, unknown>>[]) =>
    decided.map((e) => {
      states[a] = evolveAccount(states[a]!, e as Parameters<typeof evolveAccount>[1]);
      return { stream: accountStream(`scale-${a}`), revision: ++revisions[a]!, event: e };
    });

  for (let a = 0; a < accounts; a++) {
    for (const [amount, source, priority] of [
      [300, 'promo', 10],
      [1_000_000, 'purchase', 50],
    ] as const) {
      const at = now();
      const grant = decideGrantCredits(states[a]!, {
        type: 'GrantCredits',
        accountId: `scale-${a}`,
        amount,
        source,
        grantId: randomUUID(),
        priority,
        ...(source === 'promo' ? { expiresAt: '2030-01-01T00:00:00.000Z' } : {}),
        now: at,
      });
      await writer.command(at, accountEvents(a, grant.account), 201, grant.reply);
    }
  }
  let progress = 1_000_000;
  while (writer.written < events) {
    const a = Math.floor(Math.random() * accounts);
    const accountId = `scale-${a}`;
    const projectId = randomUUID();
    const cost = 1 + Math.floor(Math.random() * 50);
    const project = projectStream(projectId);
    let projectState = initialProjectState();
    const projectEvents = (decided: readonly DomainEvent<string, Record<string, unknown>>[], from: number) =>
      decided.map((e, i) => {
        projectState = evolveProject(projectState, e as Parameters<typeof evolveProject>[1]);
        return { stream: project, revision: from + i, event: e };
      });

    let at = now();
    const start = decideStartProject(states[a]!, projectState, {
      type: 'StartProject',
      projectId,
      accountId,
      cost,
      now: at,
    });
    await writer.command(
      at,
      [...accountEvents(a, start.account), ...projectEvents(start.project, 0)],
      201,
      start.reply,
    );
    let revision = start.project.length;

    at = now();
    const claim = decideClaimProject(projectState, {
      type: 'ClaimProject',
      projectId,
      workerId: 'w',
      leaseSeconds: 3600,
      now: at,
    });
    await writer.command(at, projectEvents(claim.project, revision), 200, claim.reply);
    revision += claim.project.length;

    at = now();
    const used = Math.floor(Math.random() * (cost + 1));
    const finish =
      Math.random() < 0.2
        ? decideFailProject(states[a]!, projectState, {
            type: 'FailProject',
            projectId,
            attempt: 1,
            code: 'failed',
            errorMessage: 'boom',
            now: at,
          })
        : decideCompleteProject(states[a]!, projectState, {
            type: 'CompleteProject',
            projectId,
            attempt: 1,
            creditsUsed: used,
            assets: { assetUrl: 'https://cdn.test/a' },
            now: at,
          });
    // The project's end with its record, then its refund in a later append, as the service writes them.
    const metadata = await writer.command(at, projectEvents(finish.project, revision), 200, finish.reply);
    if (finish.account.length > 0) await writer.append(at, accountEvents(a, finish.account), metadata);
    if (writer.written >= progress) {
      log(`  seeded ${writer.written}/${events}`);
      progress += 1_000_000;
    }
  }
  await writer.finish();
  return writer.written;
}

interface Row {
  stream: string;
  revision: number;
  event: DomainEvent<string, Record<string, unknown>>;
}

/** Buffers a log's rows and writes them in large set-based INSERTs, positions in order. */
class LogWriter {
  written = 0;
  private columns = {
    position: [] as number[],
    stream: [] as string[],
    revision: [] as number[],
    id: [] as string[],
    type: [] as string[],
    data: [] as string[],
    metadata: [] as string[],
    at: [] as string[],
  };
  private dropped: string[] = [];
  /** INSERTs under way: generating the next rows overlaps writing these (positions are explicit). */
  private readonly inFlight = new Set<Promise<void>>();
  /** Time spent waiting for the database, in ms. */
  waitedMs = 0;

  constructor(private readonly pool: pg.Pool) {}

  /** The events table's indexes but its primary key, dropped for the load and rebuilt by `finish`. */
  async dropSecondaryIndexes(): Promise<void> {
    const { rows } = await this.pool.query<{ name: string; definition: string; constraint: boolean }>(
      `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition,
              c.oid IS NOT NULL AS constraint
       FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
       WHERE i.indrelid = 'event_store.events'::regclass AND NOT i.indisprimary`,
    );
    for (const row of rows) {
      const name = row.name.replace(/^event_store\./, '');
      if (row.constraint) {
        const { rows: constraints } = await this.pool.query<{ definition: string }>(
          `SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint
           WHERE conrelid = 'event_store.events'::regclass AND conname = $1`,
          [name],
        );
        this.dropped.push(`ALTER TABLE event_store.events ADD CONSTRAINT ${name} ${constraints[0]!.definition}`);
        await this.pool.query(`ALTER TABLE event_store.events DROP CONSTRAINT ${name}`);
      } else {
        this.dropped.push(row.definition);
        await this.pool.query(`DROP INDEX ${row.name}`);
      }
    }
  }

  /** One accepted command: its events and its idempotency record in one append. Answers its metadata. */
  async command(at: Date, rows: Row[], status: number, reply: object): Promise<string> {
    const idempotencyKey = randomUUID();
    const metadata = JSON.stringify({
      commandId: randomUUID(),
      idempotencyKey,
      correlationId: randomUUID(),
      causationId: idempotencyKey,
      caller: CALLER,
      at: at.toISOString(),
    });
    const record: Row = {
      stream: idempotencyStream(CALLER, idempotencyKey),
      revision: 0,
      event: {
        type: 'CommandRecorded',
        data: {
          caller: CALLER,
          idempotencyKey,
          requestHash: createHash('sha256').update(idempotencyKey).digest('hex'),
          status,
          body: JSON.stringify(reply),
        },
      },
    };
    await this.append(at, [...rows, record], metadata);
    return metadata;
  }

  async append(at: Date, rows: Row[], metadata: string): Promise<void> {
    const c = this.columns;
    for (const row of rows) {
      c.position.push(++this.written);
      c.stream.push(row.stream);
      c.revision.push(row.revision);
      c.id.push(randomUUID());
      c.type.push(row.event.type);
      c.data.push(JSON.stringify(row.event.data));
      c.metadata.push(metadata);
      c.at.push(at.toISOString());
    }
    if (c.position.length >= 10_000) await this.flush();
  }

  private async flush(): Promise<void> {
    const c = this.columns;
    if (c.position.length === 0) return;
    const started = performance.now();
    while (this.inFlight.size >= 2) await Promise.race(this.inFlight);
    this.waitedMs += performance.now() - started;
    const insert = this.pool
      .query(
        `INSERT INTO event_store.events (position, stream_name, revision, event_id, event_type, data, metadata, created_at)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[], $8::timestamptz[])`,
        [c.position, c.stream, c.revision, c.id, c.type, c.data, c.metadata, c.at],
      )
      .then(() => undefined);
    this.inFlight.add(insert);
    // A failed INSERT is raised by the next flush or by finish, whichever waits on it first.
    void insert.then(
      () => this.inFlight.delete(insert),
      () => undefined,
    );
    for (const key of Object.keys(c) as (keyof typeof c)[]) c[key] = [] as never;
  }

  /** The rest, the indexes back, every stream's revision and the position sequence where the log ends. */
  async finish(): Promise<void> {
    await this.flush();
    const started = performance.now();
    await Promise.all(this.inFlight);
    this.waitedMs += performance.now() - started;
    log(
      `  rebuilding the indexes and the streams table (waited ${(this.waitedMs / 1000).toFixed(1)} s on INSERTs) ...`,
    );
    for (const statement of this.dropped) await this.pool.query(statement);
    await this.pool.query(
      `INSERT INTO event_store.streams (stream_name, revision)
       SELECT stream_name, max(revision) FROM event_store.events GROUP BY stream_name`,
    );
    await this.pool.query(`SELECT setval('event_store.position_seq', $1)`, [this.written]);
    await this.pool.query('ANALYZE event_store.events; ANALYZE event_store.streams');
  }
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

function print(report: { base: ScaleFigures; large: ScaleFigures; ratios: Record<string, number> }): void {
  const { base, large, ratios } = report;
  const line = (name: string, a: string, b: string, ratio: number) =>
    console.log(`${name.padEnd(42)} ${a.padStart(14)} ${b.padStart(14)} ${ratio.toFixed(2).padStart(8)}x`);
  console.log(
    `\n${'scale'.padEnd(42)} ${`${base.events} ev`.padStart(14)} ${`${large.events} ev`.padStart(14)}    ratio`,
  );
  line(
    'start throughput, 16 conns (/s)',
    base.start.perSecond.toFixed(0),
    large.start.perSecond.toFixed(0),
    ratios.startThroughput!,
  );
  line('start p50 (ms)', base.start.p50Ms.toFixed(1), large.start.p50Ms.toFixed(1), ratios.startP50!);
  line(
    'decision latency, warm debit p50 (ms)',
    base.decision.warmP50Ms.toFixed(2),
    large.decision.warmP50Ms.toFixed(2),
    ratios.decisionWarmP50!,
  );
  line(
    'decision latency, first debit p50 (ms)',
    base.decision.firstP50Ms.toFixed(2),
    large.decision.firstP50Ms.toFixed(2),
    ratios.decisionFirstP50!,
  );
  line(
    'catch-up (events/s)',
    base.catchUp.eventsPerSecond.toFixed(0),
    large.catchUp.eventsPerSecond.toFixed(0),
    ratios.catchUpEventsPerSecond!,
  );
  line(
    'reconciliation (s; ratio of events/s)',
    base.reconciliation.seconds.toFixed(1),
    large.reconciliation.seconds.toFixed(1),
    ratios.reconciliationEventsPerSecond!,
  );
  console.log(
    `targets (issue 18): start throughput and decision latency within 1.2x of ${base.events} events ` +
      `(throughput ratio >= ${(1 / 1.2).toFixed(2)}, latency ratio <= 1.2)`,
  );
  console.log(
    `reconciliation clean: ${base.reconciliation.clean} / ${large.reconciliation.clean}; ` +
      `seeding ${base.seedSeconds.toFixed(0)} s / ${large.seedSeconds.toFixed(0)} s; ` +
      `database ${base.databaseMb.toFixed(0)} / ${large.databaseMb.toFixed(0)} MB; ` +
      `service peak RSS ${base.servicePeakRssMb.beforeReconciliation.toFixed(0)} / ${large.servicePeakRssMb.beforeReconciliation.toFixed(0)} MB ` +
      `before the reconciliation, ${base.servicePeakRssMb.after.toFixed(0)} / ${large.servicePeakRssMb.after.toFixed(0)} MB after ` +
      `(during the start load ${base.start.peakRssMb.toFixed(0)} / ${large.start.peakRssMb.toFixed(0)} MB)`,
  );
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}
