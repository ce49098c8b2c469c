import { type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { PostgresEventStore } from '@ledger/event-store';
import { CRASH_SITES, startEmbeddedPostgres, type CrashSite, type RunningPostgres } from '@ledger/platform';
import { compareWithFold } from '../support/read-model-diff.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { ADMIN_SECRET, PROVIDER, PROVIDER_SECRET, headersOf, type Request } from './crash-cases.js';
import { buildService, startService, type ServiceProcess } from './service-process.js';

/**
 * The soak (`npm run soak`, and one minute of it in `npm test`): the service as a real
 * process on its own embedded PostgreSQL, under a mixed workload of clients that keep
 * their own model of what they asked for, while the service is SIGKILLed every
 * `killEverySeconds` (or dies sooner at the crash site each start arms) and the database
 * with it every third time. Every command carries its Idempotency-Key; an unanswered one
 * is sent again with the same key until it is answered. Every 10 s a bank check through
 * the API; at the end the clients' model against the ledger, the log's own invariants,
 * the read models against a fold, and the outbound deliveries owed against those the
 * receiver got. `runSoak` answers the report; `failures(report)` says what is wrong.
 */
export interface SoakOptions {
  minutes: number;
  /** The longest a service process lives: then it is SIGKILLed from outside. */
  killEverySeconds: number;
  /** Every `databaseKillEvery`-th death of the service takes the database with it. */
  databaseKillEvery: number;
  /** Clients sending commands side by side. */
  clients: number;
  /** Commands a second asked of all clients together (their pace, not a bound on the service). */
  ratePerSecond: number;
  bankCheckSeconds: number;
  /**
   * Every start after the first arms a crash site (the next one not yet died at) until every
   * site was died at once; from then on every `armEvery`-th start does, and the others run
   * unarmed until their kill. 1: every start, the most crashes; most processes then die soon
   * after their start, often in it, as the watchdog's sweeps and the projector's catch-up reach
   * them, and none lives its full `killEverySeconds`, so there is no RSS growth to measure.
   * The default, 2, gives both.
   */
  armEvery: number;
  /** The load goes on past its time until the database was killed this many times... */
  minDatabaseKills: number;
  /** ...and this many bank checks were completed during it. */
  minBankChecks: number;
  /** Progress, for a bar or a log: called every second and at each fault. */
  onProgress?: (progress: SoakProgress) => void;
}

export interface SoakProgress {
  elapsedSeconds: number;
  totalSeconds: number;
  phase: 'load' | 'final';
  commandsSent: number;
  serviceKills: number;
  databaseKills: number;
  crashSiteDeaths: number;
}

export interface SoakReport {
  minutes: number;
  faults: {
    serviceKills: number;
    databaseKills: number;
    crashSiteDeaths: number;
    serviceStarts: number;
    /** The service ended by itself (not by a SIGKILL, its own or ours): a crash the soak found. */
    unexpectedExits: number;
  };
  crashSites: { covered: number; total: number; notCovered: string[] };
  commands: { sent: number; answered: number; lostAnswer: number; unanswered: number; duplicatesSent: number };
  creditsLost: number;
  creditsDuplicated: number;
  commandsAppliedTwice: number;
  duplicateAnswersDiffering: number;
  serverErrors: number;
  /** Answers the clients' model has no place for (a 4xx it did not expect). */
  unexpectedAnswers: number;
  invariantViolations: number;
  bankChecks: number;
  doubleTerminals: number;
  doubleRefunds: number;
  /** Projects the watchdog failed (deadline, attempts) and lots it expired (or a refund into an expired lot did). */
  watchdog: { projectsFailed: number; lotsExpired: number };
  versionConflictRetries: number;
  unavailableRetries: number;
  projectionDiffRows: number;
  deliveries: { owed: number; received: number; badSignatures: number };
  maxDeliveryLagMs: number;
  maxDispatcherLagEvents: number;
  latencyMs: { p50: number; p99: number };
  /**
   * `start` (just started, no load yet) and `end` differ in age and load. `atKill` are the
   * processes killed from outside after their full life, in order: of the same age under the
   * same load, at their kill. `firstKilled` and `lastKilled` are its ends; `growthAtKillPercent`
   * is how much more its last third took than its first, on average (one process's RSS moves
   * with where the garbage collector stood at the kill; a third of them evens that out).
   */
  rssMb: {
    start: number;
    end: number;
    max: number;
    atKill?: number[];
    firstKilled?: number;
    lastKilled?: number;
    growthAtKillPercent?: number;
  };
  events: number;
  /** What the checks found, for a person to read (capped). */
  problems: string[];
}

/** What in a report means money or an invariant is wrong (empty: the soak passed). */
export function failures(report: SoakReport): string[] {
  const zero: [string, number][] = [
    ['creditsLost', report.creditsLost],
    ['creditsDuplicated', report.creditsDuplicated],
    ['commandsAppliedTwice', report.commandsAppliedTwice],
    ['duplicateAnswersDiffering', report.duplicateAnswersDiffering],
    ['serverErrors', report.serverErrors],
    ['unexpectedAnswers', report.unexpectedAnswers],
    ['faults.unexpectedExits', report.faults.unexpectedExits],
    ['invariantViolations', report.invariantViolations],
    ['doubleTerminals', report.doubleTerminals],
    ['doubleRefunds', report.doubleRefunds],
    ['projectionDiffRows', report.projectionDiffRows],
    ['commands.unanswered', report.commands.unanswered],
    ['deliveries.badSignatures', report.deliveries.badSignatures],
  ];
  const out = zero.filter(([, n]) => n !== 0).map(([name, n]) => `${name} = ${n}`);
  if (report.deliveries.received !== report.deliveries.owed)
    out.push(`deliveries received ${report.deliveries.received} of ${report.deliveries.owed} owed`);
  return out;
}

export const SOAK_DEFAULTS: Omit<SoakOptions, 'minutes'> = {
  killEverySeconds: 60,
  databaseKillEvery: 3,
  armEvery: 2,
  clients: 4,
  ratePerSecond: 40,
  bankCheckSeconds: 10,
  minDatabaseKills: 0,
  minBankChecks: 0,
};

const ACCOUNTS = 6;
const REQUEST_TIMEOUT_MS = 30_000;
const FINAL_BOUND_MS = 120_000;
/** A process killed from outside after this share of its life counts as having lived it in full. */
const FULL_LIFE = 0.95;
// A start on two loaded cores: migrations, the projector and the dispatcher catching up.
const START_BOUND_MS = 120_000;
// The types an endpoint subscribed to them is owed, by the log event that makes each.
const OUTBOUND_OF: Readonly<Record<string, string>> = {
  CreditsGranted: 'credits.granted',
  Debited: 'credits.debited',
  Refunded: 'credits.refunded',
  CreditsExpired: 'credits.expired',
  GrantVoided: 'credits.voided',
  ProjectStarted: 'project.started',
  ProjectClaimed: 'project.claimed',
  ProjectCompleted: 'project.completed',
  ProjectFailed: 'project.failed',
};

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

type Outcome =
  // Ended by the client's own terminal command (or the provider's delivery), answered: this refund.
  | { kind: 'refund'; amount: number }
  // The terminal was refused (409): the watchdog ended it first, failed with the whole cost refunded.
  | { kind: 'watchdog' }
  // A provider delivery kept (202): applied later, so what the project shows decides.
  | { kind: 'kept'; succeeded: boolean };

interface ModelProject {
  id: string;
  accountId: string;
  cost: number;
  taskId?: string;
  state: 'pending' | 'processing' | 'closed';
  attempt: number;
  busy: boolean;
  terminalSent: boolean;
  /** No client sends it anything (until the end's cancel): only the watchdog ends it. */
  abandoned: boolean;
  outcome?: Outcome;
}

interface ModelAccount {
  granted: number;
  debited: number;
  voided: number;
  lots: string[];
}

/** One soak run; `dispose()` ends every process it started (also when `run()` failed midway). */
export class Soak {
  private readonly options: SoakOptions;
  private dataDir = '';
  private postgres?: RunningPostgres;
  private databaseUrl = '';
  private build?: Awaited<ReturnType<typeof buildService>>;
  private receiver?: WebhookReceiver;
  private service?: ServiceProcess;
  private serviceStartedAt = 0;
  private serviceWaiters: (() => void)[] = [];
  private readonly children = new Set<ChildProcess>();
  private armedSite: string | undefined;
  private siteIndex = 0;
  private loadEndsAt = 0;
  private stopping = false;
  private disposed = false;
  private banking = false;
  /** When each owed delivery (its type and position) first reached the receiver, answered 2xx and verified. */
  private readonly delivered = new Map<string, number>();
  private badSignatures = 0;

  private readonly accounts = new Map<string, ModelAccount>();
  private readonly projects = new Map<string, ModelProject>();
  private endpoint?: { id: string; secret: string; position: number };
  private readonly latencies: number[] = [];
  private readonly problems: string[] = [];
  private readonly covered = new Set<string>();
  private readonly stats = {
    sent: 0,
    answered: 0,
    lostAnswer: 0,
    duplicatesSent: 0,
    duplicateAnswersDiffering: 0,
    serverErrors: 0,
    versionConflictRetries: 0,
    unavailableRetries: 0,
    serviceKills: 0,
    databaseKills: 0,
    crashSiteDeaths: 0,
    serviceStarts: 0,
    unexpectedExits: 0,
    unexpectedAnswers: 0,
    invariantViolations: 0,
    bankChecks: 0,
    maxDispatcherLagEvents: 0,
    rssStart: 0,
    rssEnd: 0,
    rssMax: 0,
    /**
     * Each process killed from outside after its full life (`killEverySeconds`), at its kill: the
     * same age under the same load, in the order they died.
     */
    rssAtKill: [] as number[],
  };

  constructor(options: Partial<SoakOptions> & { minutes: number }) {
    this.options = { ...SOAK_DEFAULTS, ...options };
    for (let i = 0; i < ACCOUNTS; i++) this.accounts.set(`acc-${i}`, { granted: 0, debited: 0, voided: 0, lots: [] });
  }

  async run(): Promise<SoakReport> {
    this.dataDir = await mkdtemp(join(tmpdir(), 'ledger-soak-'));
    await chmod(this.dataDir, 0o755);
    this.postgres = await startEmbeddedPostgres({ dataDir: this.dataDir });
    this.databaseUrl = await this.postgres.createDatabase('ledger');
    this.build = await buildService();
    this.receiver = await WebhookReceiver.start();
    this.receiver.answer = (request) => this.answerDelivery(request);

    await this.startService(false);
    this.stats.rssStart = await rssOf(this.service!.child.pid);
    await this.registerEndpoint();

    const totalMs = this.options.minutes * 60_000;
    const started = Date.now();
    this.loadEndsAt = started + totalMs;
    const progress = (phase: SoakProgress['phase']) =>
      this.options.onProgress?.({
        elapsedSeconds: Math.round((Date.now() - started) / 1000),
        totalSeconds: Math.round(totalMs / 1000),
        phase,
        commandsSent: this.stats.sent,
        serviceKills: this.stats.serviceKills,
        databaseKills: this.stats.databaseKills,
        crashSiteDeaths: this.stats.crashSiteDeaths,
      });
    const ticker = setInterval(() => progress('load'), 1000);
    const banker = setInterval(() => void this.bankCheck(), this.options.bankCheckSeconds * 1000);
    try {
      const faults = this.faultLoop();
      const workers = Array.from({ length: this.options.clients }, (_, i) => this.worker(i));
      await faults;
      this.stopping = true;
      await Promise.all(workers);
    } finally {
      clearInterval(ticker);
      clearInterval(banker);
    }
    progress('final');
    return this.finish();
  }

  /** Ends every process this run started; safe to call at any time, more than once. */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.stopping = true;
    // Whoever waits for a service gives up.
    for (const wake of this.serviceWaiters.splice(0)) wake();
    for (const child of this.children) child.kill('SIGKILL');
    // SIGKILL, as in the run: its data folder goes next, nothing in it is kept.
    await this.killPostgres().catch(() => undefined);
    await this.receiver?.close().catch(() => undefined);
    await this.build?.remove().catch(() => undefined);
    if (this.dataDir) await rm(this.dataDir, { recursive: true, force: true }).catch(() => undefined);
  }

  // ---- faults -------------------------------------------------------------------------------

  /**
   * Until the load time is over: each service process lives at most the kill interval (then
   * SIGKILL from outside) or dies sooner at its armed crash site; every third death the
   * database is SIGKILLed too; both come back on the same data. (If the time is over before
   * `minDatabaseKills`, the next death takes the database anyway; and it goes on until
   * `minBankChecks` passed.) Then a final, unarmed start.
   */
  private async faultLoop(): Promise<void> {
    let deaths = 0;
    let starts = 0;
    const owedDatabaseKill = () => this.stats.databaseKills < this.options.minDatabaseKills;
    const owedBankCheck = () => this.stats.bankChecks < this.options.minBankChecks;
    while ((Date.now() < this.loadEndsAt || owedDatabaseKill() || owedBankCheck()) && !this.disposed) {
      const service = this.service!;
      const lifeMs = this.options.killEverySeconds * 1000;
      const loadOver = () => Date.now() >= this.loadEndsAt;
      // Past the load time, a database kill still owed comes at once; a bank check owed is awaited
      // (the service lives on, unless its crash site or its life ends it first).
      const killAt = !loadOver()
        ? Math.min(this.loadEndsAt, Date.now() + lifeMs)
        : owedDatabaseKill()
          ? Date.now()
          : Date.now() + lifeMs;
      const exited = () => service.child.exitCode !== null || service.child.signalCode !== null;
      const enough = () => loadOver() && !owedDatabaseKill() && !owedBankCheck();
      await until(() => this.disposed || exited() || Date.now() >= killAt || enough(), Number.MAX_SAFE_INTEGER);
      const died = exited();
      if (!died && enough()) break;
      if (this.disposed) return;
      deaths++;
      const databaseToo =
        deaths % this.options.databaseKillEvery === 0 || (Date.now() >= this.loadEndsAt && owedDatabaseKill());
      if (died) {
        const exit = await service.exited;
        if (exit.signal === 'SIGKILL') {
          this.stats.crashSiteDeaths++;
          if (this.armedSite) this.covered.add(this.armedSite);
        } else {
          this.stats.unexpectedExits++;
          this.problem(`the service ended by itself: ${JSON.stringify(exit)}`);
        }
      } else {
        // A process the end of the load cut short is younger: its RSS does not compare.
        if (Date.now() - this.serviceStartedAt >= FULL_LIFE * lifeMs)
          this.stats.rssAtKill.push(await rssOf(service.child.pid));
        if (databaseToo) {
          // The database first, under load, so the service sees it go (503s) before it goes itself.
          await this.killPostgres();
          const seen = this.stats.unavailableRetries;
          await until(() => this.stats.unavailableRetries > seen || service.child.exitCode !== null, 3_000);
        }
        service.child.kill('SIGKILL');
        await service.exited;
        this.stats.serviceKills++;
      }
      this.service = undefined;
      if (databaseToo) {
        if (died) await this.killPostgres();
        await this.restartPostgres();
      }
      starts++;
      // Every start arms a site until each was died at once; then every `armEvery`-th.
      const everyCovered = this.covered.size === CRASH_SITES.length;
      await this.startService(Date.now() < this.loadEndsAt && (!everyCovered || starts % this.options.armEvery === 0));
    }
    // The last process may be armed: the final checks run on an unarmed one.
    if (this.armedSite !== undefined && this.service) {
      this.service.child.kill('SIGKILL');
      const { signal } = await this.service.exited;
      if (signal === 'SIGKILL') this.stats.serviceKills++;
      this.service = undefined;
      await this.startService(false);
    }
  }

  /** The next site in `CRASH_SITES`' order that no process died at yet, or the next one when all were. */
  private nextSite(): CrashSite {
    for (let tried = 0; tried < CRASH_SITES.length; tried++) {
      const site = CRASH_SITES[this.siteIndex++ % CRASH_SITES.length]!;
      if (!this.covered.has(site)) return site;
    }
    return CRASH_SITES[this.siteIndex++ % CRASH_SITES.length]!;
  }

  private async startService(armed: boolean): Promise<void> {
    for (;;) {
      const site = armed ? this.nextSite() : undefined;
      // Executor and projector sites are reached all the time: die at a later one, mid-load.
      const nth = site && /^(command|projector)\./.test(site) ? 1 + Math.floor(Math.random() * 15) : 1;
      this.armedSite = site;
      this.stats.serviceStarts++;
      let startBound: NodeJS.Timeout | undefined;
      let timedOut = false;
      try {
        const service = await startService(
          this.build!.main,
          this.databaseUrl,
          {
            LEDGER_API_KEYS: `soak-admin:${ADMIN_SECRET}:admin`,
            LEDGER_WEBHOOK_SECRETS: `${PROVIDER}:${PROVIDER_SECRET}`,
            LEDGER_WATCHDOG_INTERVAL_MS: '500',
            LEDGER_OUTBOUND_ALLOW_PRIVATE: 'true',
            LEDGER_OUTBOUND_RETRY_FIRST_MS: '200',
            LEDGER_RATE_LIMIT_PER_SECOND: '100000',
            ...(site ? { LEDGER_CRASH_AT: `${site}:${nth}` } : {}),
          },
          (child) => {
            this.children.add(child);
            child.once('exit', () => this.children.delete(child));
            if (this.disposed) child.kill('SIGKILL');
            startBound = setTimeout(() => {
              timedOut = true;
              child.kill('SIGKILL');
            }, START_BOUND_MS);
          },
        ).finally(() => clearTimeout(startBound));
        this.service = service;
        this.serviceStartedAt = Date.now();
        this.stats.rssMax = Math.max(this.stats.rssMax, await rssOf(service.child.pid));
        for (const wake of this.serviceWaiters.splice(0)) wake();
        return;
      } catch (error) {
        // Armed at a site its start reaches (a projector catching up, a watchdog sweep): that is a death there.
        if (timedOut) throw new Error(`the service did not listen within ${START_BOUND_MS} ms`, { cause: error });
        if (site && /ended before it listened \(code null, signal SIGKILL\)/.test(String(error))) {
          this.stats.crashSiteDeaths++;
          this.covered.add(site);
          continue;
        }
        throw error;
      }
    }
  }

  private async killPostgres(): Promise<void> {
    if (!this.dataDir) return;
    const text = await readFile(join(this.dataDir, 'pg', 'postmaster.pid'), 'utf8').catch(() => '');
    const pid = Number(text.split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return;
    try {
      process.kill(pid, 'SIGKILL');
      if (!this.disposed) this.stats.databaseKills++;
    } catch {
      // already gone
    }
  }

  private async restartPostgres(): Promise<void> {
    this.postgres = await startEmbeddedPostgres({ dataDir: this.dataDir, port: this.postgres!.port });
  }

  /** The service up now, or the next one to start. */
  private async up(): Promise<ServiceProcess> {
    for (;;) {
      const service = this.service;
      if (service && service.child.exitCode === null && service.child.signalCode === null) return service;
      if (this.disposed) throw new Error('the soak was disposed');
      await new Promise<void>((resolve) => this.serviceWaiters.push(resolve));
    }
  }

  // ---- the clients --------------------------------------------------------------------------

  /**
   * Sends one command until it is answered: an unanswered one (the connection dropped, the
   * process died) is sent again with the same key once a service is up; 503, 429 and 409
   * `concurrency_conflict` ask for the same.
   */
  private async send(request: Request, options: { duplicate?: boolean } = {}): Promise<Reply> {
    this.stats.sent++;
    if (options.duplicate) this.stats.duplicatesSent++;
    let lost = false;
    for (let attempt = 0; ; attempt++) {
      const service = await this.up();
      // Webhooks are signed per attempt: the same raw body, a fresh timestamp.
      const raw = JSON.stringify(request.body);
      const began = performance.now();
      let response: Response;
      let text: string;
      try {
        response = await fetch(`${service.url}${request.path}`, {
          method: 'POST',
          headers: headersOf(request, raw),
          body: raw,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        text = await response.text();
      } catch {
        if (!lost) this.stats.lostAnswer++;
        lost = true;
        // The process is dying or dead: the next attempt waits for its successor.
        await until(() => service !== this.service || service.child.exitCode !== null, 200);
        continue;
      }
      this.latencies.push(performance.now() - began);
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      const code = (body.error as { code?: string } | undefined)?.code;
      if (response.status === 503 || response.status === 429) {
        this.stats.unavailableRetries++;
        await delay(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)));
        continue;
      }
      if (response.status === 409 && code === 'concurrency_conflict') {
        this.stats.versionConflictRetries++;
        continue;
      }
      if (response.status >= 500) {
        this.stats.serverErrors++;
        this.problem(`${request.path}: ${response.status} ${text.slice(0, 200)}`);
        await delay(200);
        continue;
      }
      this.stats.answered++;
      // A key's secret is in its first answer only, by design: not part of what a repeat answers.
      if (request.path === '/v1/api-keys') delete body.secret;
      return { status: response.status, body };
    }
  }

  /** A command, and in 5% of cases the same again (at once, or side by side): the same answer. */
  private async command(request: Request): Promise<Reply> {
    const roll = Math.random();
    if (roll >= 0.05) return this.send(request);
    const [first, again] =
      roll < 0.025
        ? await Promise.all([this.send(request), this.send(request, { duplicate: true })])
        : [await this.send(request), await this.send(request, { duplicate: true })];
    if (first.status !== again.status || JSON.stringify(first.body) !== JSON.stringify(again.body)) {
      this.stats.duplicateAnswersDiffering++;
      this.problem(`a repeat of ${request.key ?? 'a webhook'} answered ${JSON.stringify([first, again])}`);
    }
    return first;
  }

  private async worker(n: number): Promise<void> {
    const paceMs = (1000 * this.options.clients) / this.options.ratePerSecond;
    for (let i = 0; !this.stopping; i++) {
      const began = Date.now();
      await this.step(`${n}-${i}`);
      const rest = paceMs - (Date.now() - began);
      if (rest > 0) await delay(rest);
    }
  }

  private async step(tag: string): Promise<void> {
    const accountId = `acc-${Math.floor(Math.random() * ACCOUNTS)}`;
    const account = this.accounts.get(accountId)!;
    const open = (state: ModelProject['state']) =>
      [...this.projects.values()].filter((p) => p.state === state && !p.busy && !p.terminalSent && !p.abandoned);
    const pick = <T>(items: T[]): T | undefined => items[Math.floor(Math.random() * items.length)];
    const keyOps = this.armedSite?.startsWith('api-key') ? 0.15 : 0.02;
    const r = Math.random();
    if (r < keyOps) return this.keyRotation(tag);
    if (r < 0.22) return this.grant(tag, accountId, account);
    if (r < 0.3) return this.debit(tag, accountId, account);
    if (r < 0.32) return this.void(tag, accountId, account);
    if (r < 0.5) return this.start(tag, accountId, account);
    const pending = open('pending');
    const processing = open('processing');
    if (r < 0.62) {
      const project = pick(pending);
      return project ? this.claim(tag, project) : this.start(tag, accountId, account);
    }
    if (r < 0.7) {
      const project = pick(processing);
      return project ? this.heartbeat(tag, project) : this.grant(tag, accountId, account);
    }
    const project = pick([...pending, ...processing]);
    if (!project) return this.grant(tag, accountId, account);
    if (project.taskId && r < 0.8) return this.providerReport(tag, project);
    if (project.state === 'processing' && r < 0.9) return this.complete(tag, project);
    if (project.state === 'processing' && r < 0.95) return this.fail(tag, project);
    return this.cancel(tag, project);
  }

  private async grant(tag: string, accountId: string, account: ModelAccount): Promise<void> {
    const amount = 20 + Math.floor(Math.random() * 180);
    const grantId = `g-${tag}`;
    const roll = Math.random();
    // Some lots expire within the run (the watchdog records it), some far ahead, most never.
    const expiresAt =
      roll < 0.3
        ? new Date(Math.min(Date.now() + 5_000 + Math.random() * 30_000, this.loadEndsAt - 2_000))
        : roll < 0.4
          ? new Date(Date.now() + 30 * 86_400_000)
          : undefined;
    const body = {
      amount,
      source: Math.random() < 0.4 ? 'promo' : 'purchase',
      grantId,
      ...(expiresAt && expiresAt.getTime() > Date.now() + 1_000 ? { expiresAt: expiresAt.toISOString() } : {}),
    };
    const reply = await this.command({ path: `/v1/accounts/${accountId}/grants`, body, key: `grant-${tag}` });
    if (reply.status === 201) {
      account.granted += amount;
      account.lots.push(grantId);
    } else this.expectRefusal('grant', reply, [400]);
  }

  private async debit(tag: string, accountId: string, account: ModelAccount): Promise<void> {
    const amount = 1 + Math.floor(Math.random() * 30);
    const body = { amount, reason: 'api-call' };
    const reply = await this.command({ path: `/v1/accounts/${accountId}/debits`, body, key: `debit-${tag}` });
    if (reply.status === 201) account.debited += amount;
    // 404: the account has had no grant yet.
    else this.expectRefusal('debit', reply, [402, 404]);
  }

  private async void(tag: string, accountId: string, account: ModelAccount): Promise<void> {
    const grantId = account.lots.splice(Math.floor(Math.random() * account.lots.length), 1)[0];
    if (grantId === undefined) return this.grant(tag, accountId, account);
    const path = `/v1/accounts/${accountId}/grants/${grantId}/void`;
    const reply = await this.command({ path, body: { reason: 'chargeback' }, key: `void-${tag}` });
    if (reply.status === 200) account.voided += Number(reply.body.voided);
    // Expired meanwhile: nothing voided.
    else this.expectRefusal('void', reply, [409]);
  }

  private async start(tag: string, accountId: string, account: ModelAccount): Promise<void> {
    const id = `p-${tag}`;
    const cost = 5 + Math.floor(Math.random() * 36);
    const taskId = Math.random() < 0.3 ? `task-${tag}` : undefined;
    // A fifth abandoned (its worker gone) with a deadline of seconds: the watchdog fails them, with their refund.
    const abandoned = Math.random() < 0.2;
    const body = {
      projectId: id,
      accountId,
      cost,
      ...(taskId ? { externalTaskId: taskId } : {}),
      ...(abandoned ? { deadlineSeconds: 2 + Math.floor(Math.random() * 5) } : {}),
    };
    const reply = await this.command({ path: '/v1/projects', body, key: `start-${tag}` });
    if (reply.status === 201) {
      account.debited += cost;
      this.projects.set(id, {
        id,
        accountId,
        cost,
        ...(taskId ? { taskId } : {}),
        state: 'pending',
        attempt: 0,
        busy: false,
        terminalSent: false,
        abandoned,
      });
    } else this.expectRefusal('start', reply, [402, 404]);
  }

  private async onProject(project: ModelProject, work: () => Promise<void>): Promise<void> {
    project.busy = true;
    try {
      await work();
    } finally {
      project.busy = false;
    }
  }

  private claim(tag: string, project: ModelProject): Promise<void> {
    return this.onProject(project, async () => {
      const body = { workerId: `w-${tag}`, leaseSeconds: 300 };
      const reply = await this.command({ path: `/v1/projects/${project.id}/claim`, body, key: `claim-${tag}` });
      if (reply.status === 200) {
        project.state = 'processing';
        project.attempt = Number(reply.body.attempt);
      } else {
        // The watchdog ended it (its deadline passed): no more commands on it.
        this.expectRefusal('claim', reply, [409]);
        project.state = 'closed';
      }
    });
  }

  private heartbeat(tag: string, project: ModelProject): Promise<void> {
    return this.onProject(project, async () => {
      const body = { attempt: project.attempt, leaseSeconds: 300 };
      const reply = await this.command({ path: `/v1/projects/${project.id}/heartbeat`, body, key: `beat-${tag}` });
      if (reply.status !== 200) {
        this.expectRefusal('heartbeat', reply, [409]);
        project.state = 'closed';
      }
    });
  }

  /** A terminal command: answered 200 it ended the project with `refund`; refused, the watchdog did. */
  private terminal(project: ModelProject, request: Request, refund: number, name: string): Promise<void> {
    project.terminalSent = true;
    return this.onProject(project, async () => {
      const reply = await this.command(request);
      project.state = 'closed';
      if (reply.status === 200) {
        project.outcome = { kind: 'refund', amount: refund };
        if (reply.body.refunded !== refund)
          this.problem(`${name} of ${project.id} answered refunded ${String(reply.body.refunded)}, not ${refund}`);
      } else {
        this.expectRefusal(name, reply, [409]);
        project.outcome = { kind: 'watchdog' };
      }
    });
  }

  private complete(tag: string, project: ModelProject): Promise<void> {
    const used = Math.floor(Math.random() * (project.cost + 1));
    const body = { attempt: project.attempt, creditsUsed: used, assets: { assetUrl: `https://cdn.test/${tag}.mp4` } };
    const request = { path: `/v1/projects/${project.id}/complete`, body, key: `complete-${tag}` };
    return this.terminal(project, request, project.cost - used, 'complete');
  }

  private fail(tag: string, project: ModelProject): Promise<void> {
    const body = { attempt: project.attempt, errorMessage: 'worker crashed' };
    const request = { path: `/v1/projects/${project.id}/fail`, body, key: `fail-${tag}` };
    return this.terminal(project, request, project.cost, 'fail');
  }

  private cancel(tag: string, project: ModelProject): Promise<void> {
    const request = {
      path: `/v1/projects/${project.id}/fail`,
      body: { errorMessage: 'user cancelled' },
      key: `cancel-${tag}`,
    };
    return this.terminal(project, request, project.cost, 'cancel');
  }

  private providerReport(tag: string, project: ModelProject): Promise<void> {
    const succeeded = Math.random() < 0.7;
    const body = {
      taskId: project.taskId,
      status: succeeded ? 'succeeded' : 'failed',
      deliveryId: `d-${tag}`,
      ...(succeeded ? { assets: { assetUrl: `https://provider.test/${tag}.png` } } : { error: 'provider error' }),
    };
    project.terminalSent = true;
    return this.onProject(project, async () => {
      const reply = await this.command({ path: `/v1/webhooks/${PROVIDER}`, body, webhook: true });
      project.state = 'closed';
      if (reply.status === 200) project.outcome = { kind: 'refund', amount: succeeded ? 0 : project.cost };
      // Its start not yet in the projects read model: kept, and applied shortly.
      else if (reply.status === 202) project.outcome = { kind: 'kept', succeeded };
      else {
        this.expectRefusal('provider report', reply, [409]);
        project.outcome = { kind: 'watchdog' };
      }
    });
  }

  private async keyRotation(tag: string): Promise<void> {
    const created = await this.command({
      path: '/v1/api-keys',
      body: { name: `k-${tag}`, scopes: ['read'] },
      key: `key-${tag}`,
    });
    if (created.status !== 201) return this.expectRefusal('key create', created, []);
    const revoked = await this.command({
      path: `/v1/api-keys/${String(created.body.keyId)}/revoke`,
      body: { reason: 'rotated' },
      key: `revoke-${tag}`,
    });
    if (revoked.status !== 200) this.expectRefusal('key revoke', revoked, []);
  }

  /** A refusal the clients' model allows for; any other answer is counted (and failed on). */
  private expectRefusal(what: string, reply: Reply, allowed: number[]): void {
    if (allowed.includes(reply.status)) return;
    this.stats.unexpectedAnswers++;
    this.problem(`${what}: unexpected ${reply.status} ${JSON.stringify(reply.body)}`);
  }

  private async registerEndpoint(): Promise<void> {
    const reply = await this.send({
      path: '/v1/webhook-endpoints',
      body: { url: this.receiver!.url('/soak'), events: Object.values(OUTBOUND_OF) },
      key: 'soak-endpoint',
    });
    if (reply.status !== 201)
      throw new Error(`registering the endpoint: ${reply.status} ${JSON.stringify(reply.body)}`);
    this.endpoint = {
      id: String(reply.body.endpointId),
      secret: String(reply.body.secret),
      position: Number(reply.body.position),
    };
  }

  // ---- checks -------------------------------------------------------------------------------

  private async get(path: string): Promise<Record<string, unknown>> {
    const service = await this.up();
    const response = await fetch(`${service.url}${path}`, {
      headers: { authorization: `Bearer ${ADMIN_SECRET}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = (await response.json()) as Record<string, unknown>;
    if (response.status !== 200) throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
    return body;
  }

  /**
   * Through the API: each account's balance is granted − debited + refunded − expired −
   * voided and not negative, no lot holds less than 0 or more than it was granted, the
   * audit's reconciliation finds nothing. A check a kill interrupts starts again on the next
   * process (any instant must pass); during the load the lots checked are the active ones
   * (the others hold 0 and no longer move), at the end all.
   */
  private async bankCheck(final = false): Promise<void> {
    if (!final && (this.stopping || this.banking)) return;
    this.banking = true;
    try {
      for (;;) {
        try {
          const found = await this.bankFindings(final);
          this.stats.bankChecks++;
          this.stats.invariantViolations += found.length;
          for (const problem of found) this.problem(`bank check: ${problem}`);
          return;
        } catch (error) {
          if (final) throw error;
          if (this.stopping) return;
          await until(() => this.stopping || !!this.service, 60_000);
        }
      }
    } finally {
      this.banking = false;
    }
  }

  private async bankFindings(final: boolean): Promise<string[]> {
    const found: string[] = [];
    let sum = 0;
    let flows = 0;
    await Promise.all(
      [...this.accounts.keys()].map(async (accountId) => {
        const account = await this.get(`/v1/accounts/${accountId}`).catch((error: Error) => {
          // No grant yet.
          if (/: 404 /.test(error.message)) return undefined;
          throw error;
        });
        if (!account) return;
        const n = (field: string) => Number(account[field]);
        const flow = n('totalGranted') - n('totalDebited') + n('totalRefunded') - n('totalExpired') - n('totalVoided');
        sum += n('balance');
        flows += flow;
        if (n('balance') !== flow) found.push(`${accountId}: balance ${n('balance')} but its totals make ${flow}`);
        if (n('balance') < 0) found.push(`${accountId}: balance ${n('balance')}`);
        const statuses = final ? ['active', 'exhausted', 'expired', 'voided'] : ['active'];
        for (const lot of await this.lotsOf(accountId, statuses)) {
          if (lot.remaining < 0 || lot.remaining > lot.granted)
            found.push(`${accountId}/${lot.grantId}: remaining ${lot.remaining} of ${lot.granted}`);
        }
      }),
    );
    if (sum !== flows) found.push(`Σ balances ${sum} but Σ flows ${flows}`);
    const audit = await this.get('/v1/audit/reconciliation');
    for (const item of [...(audit.mismatches as unknown[]), ...(audit.violations as unknown[])])
      found.push(`reconciliation: ${JSON.stringify(item)}`);
    this.stats.maxDispatcherLagEvents = Math.max(this.stats.maxDispatcherLagEvents, await this.readiness());
    this.stats.rssMax = Math.max(this.stats.rssMax, await rssOf(this.service?.child.pid));
    return found;
  }

  private async readiness(): Promise<number> {
    const service = await this.up();
    const response = await fetch(`${service.url}/health/ready`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = (await response.json()) as { info?: { outbound?: { lagEvents?: number } } };
    return Number(body.info?.outbound?.lagEvents ?? 0);
  }

  private async lotsOf(
    accountId: string,
    statuses: string[],
  ): Promise<{ grantId: string; granted: number; remaining: number }[]> {
    const lots: { grantId: string; granted: number; remaining: number }[] = [];
    for (const status of statuses) {
      for (let cursor: string | null = null; ;) {
        const page = await this.get(
          `/v1/accounts/${accountId}/lots?status=${status}&limit=500${cursor ? `&cursor=${cursor}` : ''}`,
        );
        for (const lot of page.items as Record<string, unknown>[])
          lots.push({ grantId: String(lot.grantId), granted: Number(lot.granted), remaining: Number(lot.remaining) });
        cursor = page.nextCursor as string | null;
        if (!cursor) break;
      }
    }
    return lots;
  }

  private async finish(): Promise<SoakReport> {
    // Every project still open is cancelled, so nothing changes once the last lots expire.
    await Promise.all(
      [...this.projects.values()].filter((p) => !p.terminalSent).map((p) => this.cancel(`final-${p.id}`, p)),
    );
    const pool = new pg.Pool({ connectionString: this.databaseUrl, max: 2 });
    const store = await PostgresEventStore.connect({ connectionString: this.databaseUrl, poolSize: 2 });
    try {
      // The lots due by now are recorded expired (the watchdog), and the read models hold the head.
      const due = await until(async () => {
        for (const accountId of this.accounts.keys()) {
          const active = (await this.get(`/v1/accounts/${accountId}/lots?status=active&limit=500`).catch(() => ({
            items: [],
          }))) as { items: { expiresAt: string | null }[] };
          if (active.items.some((lot) => lot.expiresAt !== null && Date.parse(lot.expiresAt) <= Date.now()))
            return false;
        }
        return true;
      }, FINAL_BOUND_MS);
      if (!due) this.problem('lots past their expiry were still active at the end');
      // Provider deliveries kept (202, their start not yet projected) are applied shortly, once each.
      const kept = [...this.projects.values()].filter((p) => p.outcome?.kind === 'kept');
      const applied = await until(async () => {
        for (const project of kept) {
          const shown = await this.get(`/v1/projects/${project.id}`).catch(() => ({ status: 'unknown' }));
          if (shown.status !== 'completed' && shown.status !== 'failed') return false;
        }
        return true;
      }, FINAL_BOUND_MS);
      if (!applied) this.problem('provider deliveries kept were not all applied at the end');
      const head = async () =>
        Number(
          (await pool.query<{ head: string }>('SELECT coalesce(max(position), 0) AS head FROM event_store.events'))
            .rows[0]!.head,
        );
      const last = await head();
      await this.get(`/v1/projects?limit=1&minPosition=${last}&waitMs=30000`);

      // The clients' model against the ledger.
      let lost = 0;
      let duplicated = 0;
      const compare = (what: string, expected: number, actual: number) => {
        if (actual > expected) duplicated += actual - expected;
        if (actual < expected) lost += expected - actual;
        if (actual !== expected) this.problem(`${what}: the clients expect ${expected}, the ledger has ${actual}`);
      };
      const refundsOf = new Map<string, number>();
      for (const project of this.projects.values()) {
        const shown = await this.get(`/v1/projects/${project.id}`);
        const expected = expectedRefund(project, shown);
        if (expected === undefined) {
          this.stats.invariantViolations++;
          this.problem(`${project.id}: ${JSON.stringify(project.outcome)} but it is ${String(shown.status)}`);
          continue;
        }
        compare(`${project.id} refunded`, expected, Number(shown.refunded));
        refundsOf.set(project.accountId, (refundsOf.get(project.accountId) ?? 0) + expected);
      }
      const explicitVoids = new Map(
        (
          await pool.query<{ stream: string; voided: string }>(
            `SELECT stream_name AS stream, sum((data->>'amount')::bigint) AS voided FROM event_store.events
             WHERE event_type = 'GrantVoided' AND coalesce(data->>'reason', '') <> 'refunded_to_voided_lot'
             GROUP BY stream_name`,
          )
        ).rows.map((r) => [r.stream, Number(r.voided)]),
      );
      for (const [accountId, model] of this.accounts) {
        const shown = await this.get(`/v1/accounts/${accountId}`).catch(() => undefined);
        const n = (field: string) => (shown ? Number(shown[field]) : 0);
        compare(`${accountId} granted`, model.granted, n('totalGranted'));
        compare(`${accountId} debited`, model.debited, n('totalDebited'));
        compare(`${accountId} refunded`, refundsOf.get(accountId) ?? 0, n('totalRefunded'));
        compare(`${accountId} voided (by a void)`, model.voided, explicitVoids.get(`account-${accountId}`) ?? 0);
      }
      await this.bankCheck(true);

      // The log itself: each command applied once, one end and one refund a project.
      const count = async (sql: string) => Number((await pool.query<{ n: string }>(sql)).rows[0]!.n);
      const appliedTwice = await count(
        `SELECT count(*) AS n FROM (SELECT 1 FROM event_store.events WHERE metadata ? 'idempotencyKey'
         GROUP BY metadata->>'caller', metadata->>'idempotencyKey' HAVING count(DISTINCT metadata->>'commandId') > 1) t`,
      );
      const doubleTerminals = await count(
        `SELECT count(*) AS n FROM (SELECT 1 FROM event_store.events WHERE event_type IN ('ProjectCompleted', 'ProjectFailed')
         GROUP BY stream_name HAVING count(*) > 1) t`,
      );
      const doubleRefunds = await count(
        `SELECT count(*) AS n FROM (SELECT 1 FROM event_store.events WHERE event_type = 'Refunded' AND data ? 'projectId'
         GROUP BY data->>'projectId' HAVING count(*) > 1) t`,
      );
      // What the watchdog did on its own: the run must have made it work.
      const watchdogFailed = await count(
        `SELECT count(*) AS n FROM event_store.events WHERE event_type = 'ProjectFailed'
         AND data->>'code' IN ('deadline_exceeded', 'attempts_exhausted')`,
      );
      const lotsExpired = await count(
        `SELECT count(DISTINCT (stream_name, data->>'grantId')) AS n FROM event_store.events WHERE event_type = 'CreditsExpired'`,
      );
      const diff = await compareWithFold(pool, store);
      const projectionDiffRows = diff.missing + diff.duplicated + diff.wrong;
      if (projectionDiffRows) this.problem(`read models against a fold: ${JSON.stringify(diff)}`);

      const deliveries = await this.deliveries(pool);
      const rssEnd = await rssOf(this.service?.child.pid);
      const events = await head();
      const sorted = [...this.latencies].sort((a, b) => a - b);
      const covered = CRASH_SITES.filter((site) => this.covered.has(site));
      return {
        minutes: this.options.minutes,
        faults: {
          serviceKills: this.stats.serviceKills,
          databaseKills: this.stats.databaseKills,
          crashSiteDeaths: this.stats.crashSiteDeaths,
          serviceStarts: this.stats.serviceStarts,
          unexpectedExits: this.stats.unexpectedExits,
        },
        crashSites: {
          covered: covered.length,
          total: CRASH_SITES.length,
          notCovered: CRASH_SITES.filter((site) => !this.covered.has(site)),
        },
        commands: {
          sent: this.stats.sent,
          answered: this.stats.answered,
          lostAnswer: this.stats.lostAnswer,
          unanswered: this.stats.sent - this.stats.answered,
          duplicatesSent: this.stats.duplicatesSent,
        },
        creditsLost: lost,
        creditsDuplicated: duplicated,
        commandsAppliedTwice: appliedTwice,
        duplicateAnswersDiffering: this.stats.duplicateAnswersDiffering,
        serverErrors: this.stats.serverErrors,
        unexpectedAnswers: this.stats.unexpectedAnswers,
        invariantViolations: this.stats.invariantViolations,
        bankChecks: this.stats.bankChecks,
        doubleTerminals,
        doubleRefunds,
        watchdog: { projectsFailed: watchdogFailed, lotsExpired },
        versionConflictRetries: this.stats.versionConflictRetries,
        unavailableRetries: this.stats.unavailableRetries,
        projectionDiffRows,
        deliveries,
        maxDeliveryLagMs: deliveries.maxLagMs,
        maxDispatcherLagEvents: this.stats.maxDispatcherLagEvents,
        latencyMs: { p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)) },
        rssMb: {
          start: mb(this.stats.rssStart),
          end: mb(rssEnd),
          max: mb(Math.max(this.stats.rssMax, rssEnd)),
          ...rssGrowthAtKill(this.stats.rssAtKill),
        },
        events,
        problems: this.problems.slice(0, 20),
      };
    } finally {
      await store.close();
      await pool.end();
      // A clean stop, bounded: dispose() SIGKILLs whatever is left.
      const service = this.service;
      if (service) {
        service.child.kill('SIGTERM');
        await until(() => service.child.exitCode !== null || service.child.signalCode !== null, 15_000);
      }
    }
  }

  /**
   * Every log event of a subscribed type after the endpoint's registration is owed once;
   * received means the receiver answered 2xx to a delivery of it (its type and position),
   * signed with the endpoint's secret. Waits (bounded) for the last ones: a sender killed
   * mid-attempt leaves its rows to another after their 30 s lease.
   */
  private async deliveries(pool: pg.Pool) {
    const { rows } = await pool.query<{ type: string; position: string; created_at: Date }>(
      'SELECT event_type AS type, position, created_at FROM event_store.events WHERE position > $1 AND event_type = ANY($2)',
      [this.endpoint!.position, Object.keys(OUTBOUND_OF)],
    );
    const owed = new Map(rows.map((r) => [`${OUTBOUND_OF[r.type]}@${r.position}`, r.created_at.getTime()]));
    const all = () => [...owed.keys()].every((key) => this.delivered.has(key));
    await this.receiver!.waitFor(all, FINAL_BOUND_MS).catch(() => undefined);
    let received = 0;
    let maxLagMs = 0;
    for (const [key, createdAt] of owed) {
      const at = this.delivered.get(key);
      if (at === undefined) continue;
      received++;
      maxLagMs = Math.max(maxLagMs, at - createdAt);
    }
    if (received < owed.size) this.problem(`deliveries: ${owed.size - received} of ${owed.size} never received`);
    return { owed: owed.size, received, badSignatures: this.badSignatures, maxLagMs: Math.round(maxLagMs) };
  }

  /**
   * The receiver's answer: 503 to a few (so deliveries are retried too), else 204 once the
   * signature verifies with the endpoint's secret; a delivery's first success is noted.
   */
  private answerDelivery(request: { headers: Record<string, string>; body: string }): number {
    if (!this.endpoint || Math.random() < 0.03) return 503;
    try {
      new Webhook(this.endpoint.secret).verify(request.body, request.headers);
    } catch {
      this.badSignatures++;
      return 400;
    }
    const body = JSON.parse(request.body) as { type: string; data: { position: number } };
    const key = `${body.type}@${body.data.position}`;
    if (!this.delivered.has(key)) this.delivered.set(key, Date.now());
    return 204;
  }

  private problem(text: string): void {
    if (this.problems.length < 200) this.problems.push(text);
  }
}

/**
 * What a project's refund must be, from what its client saw, or undefined when what the
 * ledger shows contradicts that.
 */
function expectedRefund(project: ModelProject, shown: Record<string, unknown>): number | undefined {
  const outcome = project.outcome;
  if (outcome?.kind === 'refund') return outcome.amount;
  if (outcome?.kind === 'kept') {
    if (shown.status === 'failed') return project.cost;
    return outcome.succeeded && shown.status === 'completed' ? 0 : undefined;
  }
  // Refused (or never sent, at the end): the watchdog failed it, refunded whole.
  return shown.status === 'failed' ? project.cost : undefined;
}

function rssGrowthAtKill(atKill: readonly number[]): Partial<SoakReport['rssMb']> {
  const measured = atKill.filter((b) => b > 0);
  if (measured.length < 2) return {};
  const third = Math.max(1, Math.floor(measured.length / 3));
  const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const [early, late] = [mean(measured.slice(0, third)), mean(measured.slice(-third))];
  return {
    atKill: measured.map(mb),
    firstKilled: mb(measured[0]!),
    lastKilled: mb(measured.at(-1)!),
    growthAtKillPercent: round(((late - early) / early) * 100),
  };
}

async function rssOf(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

const mb = (bytes: number) => Math.round(bytes / 1024 / 102.4) / 10;
const round = (ms: number) => Math.round(ms * 10) / 10;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Re-checks `condition` until it holds (true) or `boundMs` passes (false). */
async function until(condition: () => boolean | Promise<boolean>, boundMs: number): Promise<boolean> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await delay(20);
  }
}
