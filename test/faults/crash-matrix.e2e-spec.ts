import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { PostgresEventStore } from '@ledger/event-store';
import { CRASH_SITES, type CrashSite } from '@ledger/platform';
import { compareWithFold, createTestDatabase, WebhookReceiver } from '@ledger/test-support';
import {
  ADMIN_SECRET,
  CATALOGUED,
  COMMAND_TYPES,
  EXECUTOR_SITES,
  PROVIDER,
  PROVIDER_SECRET,
  headersOf,
  type CommandType,
  type Known,
  type Request,
} from './crash-cases.js';
import { buildService, startService, type ServiceProcess } from './service-process.js';

/**
 * The crash matrix: the service as a real process, killed (SIGKILL, by itself, through
 * LEDGER_CRASH_AT) at every crash site while a command of each type reaches it, then
 * restarted on the same data. The unanswered commands are retried with the same key at the
 * end, and the store must hold each applied exactly once, every invariant the audit checks
 * must hold, and the read models must equal a fold of the log. Every case's process must
 * have died by SIGKILL, so a site that is never reached fails the test. An endpoint subscribed
 * to every type points at a receiver in the test from the start: every process of the matrix
 * dispatches and sends, and in the end every delivery owed must have reached it (I8).
 */
interface Case {
  site: CrashSite;
  type: CommandType;
  tag: string;
}

const PROJECTOR_SITES: readonly CrashSite[] = ['projector.before-checkpoint', 'projector.after-commit'];
// The commands a log follower (the projector, the outbound dispatcher and its senders) is killed while taking in.
const FOLLOWED_TYPES = ['grant', 'start', 'complete'];
// After a send first: each of those starts with nothing due, so what its sender sends is its command's.
const OUTBOUND_SITES: readonly CrashSite[] = ['outbound.after-send', 'outbound.after-record-deliveries'];
const WATCHDOG_PROJECTS = 4;
const EXPIRING_LOTS = 4;
const EXIT_WAIT_MS = 30_000;
// Processes side by side in the executor's cases (CI has two cores).
const LANES = 3;

const typeNamed = (name: string) => COMMAND_TYPES.find((t) => t.name === name)!;
const tagOf = (site: string, type: string) => `${site.replace(/[^a-z]/g, '')}-${type}`;

// CRASH_MATRIX_SITES=<site>,...: only those sites' cases run (how `npm run mutants` runs one column).
const ONLY = process.env.CRASH_MATRIX_SITES?.split(',');
const selected = (site: CrashSite) => ONLY === undefined || ONLY.includes(site);

const followerCases = (sites: readonly CrashSite[]): Case[] =>
  sites.flatMap((site) => FOLLOWED_TYPES.map((name) => ({ site, type: typeNamed(name), tag: tagOf(site, name) })));
const allProjectorCases = followerCases(PROJECTOR_SITES);
const allOutboundCases = followerCases(OUTBOUND_SITES);
const allExecutorCases: Case[] = EXECUTOR_SITES.flatMap((site) =>
  COMMAND_TYPES.map((type) => ({ site, type, tag: tagOf(site, type.name) })),
);
const revokeCase: Case = {
  site: 'api-key.after-revoke-append',
  type: typeNamed('revoke-key'),
  tag: tagOf('api-key.after-revoke-append', 'revoke-key'),
};
// Commands the watchdog sends itself, killed at the executor's sites and at its own.
const allProjectExpirySites: CrashSite[] = [...EXECUTOR_SITES, 'watchdog.after-project-expired'];
const allLotExpirySites: CrashSite[] = [...EXECUTOR_SITES, 'watchdog.after-lot-expired'];
const allSites = new Set([
  ...[...allOutboundCases, ...allProjectorCases, ...allExecutorCases, revokeCase].map((c) => c.site),
  ...allProjectExpirySites,
  ...allLotExpirySites,
]);

const outboundCases = allOutboundCases.filter((c) => selected(c.site));
const projectorCases = allProjectorCases.filter((c) => selected(c.site));
const executorCases = [...allExecutorCases, revokeCase].filter((c) => selected(c.site));
const httpCases = [...outboundCases, ...projectorCases, ...executorCases];
const projectExpirySites = allProjectExpirySites.filter(selected);
const lotExpirySites = allLotExpirySites.filter(selected);

describe('crash matrix', () => {
  let build: Awaited<ReturnType<typeof buildService>>;
  let databaseUrl: string;
  let pool: pg.Pool;
  const known: Known = new Map();
  const crashed: { site: CrashSite; command: string; signal: string | null; answered: boolean }[] = [];
  let lotsExpireAt = 0;
  let receiver: WebhookReceiver;
  // The endpoint every process sends to: owed every catalogued event after its registration.
  const endpoint = { position: 0, secret: '' };
  // Requests whose signature did not verify when they arrived (a signature is good for 5 minutes).
  const unverified: string[] = [];
  // What each after-send case's process sent (the receiver took it) and died before marking, and
  // how many requests had arrived by then: each must arrive again later.
  const sentUnmarked: { ids: string[]; receivedBefore: number }[] = [];

  beforeAll(async () => {
    [build, databaseUrl, receiver] = await Promise.all([
      buildService(),
      createTestDatabase('crash_matrix'),
      WebhookReceiver.start(),
    ]);
    pool = new pg.Pool({ connectionString: databaseUrl });
  }, 180_000);
  afterAll(async () => {
    await pool?.end();
    await receiver?.close();
    await build?.remove();
  });

  const service = (env: Record<string, string> = {}) =>
    startService(build.main, databaseUrl, {
      LEDGER_API_KEYS: `crash-admin:${ADMIN_SECRET}:admin`,
      LEDGER_WEBHOOK_SECRETS: `${PROVIDER}:${PROVIDER_SECRET}`,
      LEDGER_WATCHDOG: 'off',
      LEDGER_OUTBOUND_ALLOW_PRIVATE: 'true',
      ...env,
    });

  it('lists every crash site in the matrix', () => {
    expect([...CRASH_SITES].filter((site) => !allSites.has(site))).toEqual([]);
    expect((ONLY ?? []).filter((site) => !allSites.has(site as CrashSite))).toEqual([]);
  });

  it('sets up what every case needs, with no crash armed', async () => {
    const svc = await service();
    try {
      const registered = await send(svc, {
        path: '/v1/webhook-endpoints',
        body: { url: receiver.url('/crash-matrix'), events: ['*'] },
        key: 'crash-endpoint',
      });
      expect(registered.status).toBe(201);
      endpoint.position = registered.body.position as number;
      endpoint.secret = registered.body.secret as string;
      const verifier = new Webhook(endpoint.secret);
      receiver.answer = (request) => {
        try {
          verifier.verify(request.body, request.headers);
        } catch {
          unverified.push(request.headers['webhook-id'] ?? '(none)');
        }
        return 204;
      };
      for (const c of httpCases) {
        for (const request of c.type.setup(c.tag)) {
          const reply = await send(svc, request);
          expect([200, 201]).toContain(reply.status);
          if (typeof reply.body.keyId === 'string') {
            known.set(request.key!, reply.body.keyId);
            known.set(`${request.key}:secret`, reply.body.secret as string);
          }
        }
      }
      // Lots about to expire, for the watchdog's lot sweep.
      lotsExpireAt = Date.now() + 5_000;
      for (let i = 0; i < EXPIRING_LOTS; i++) {
        const expiresAt = new Date(lotsExpireAt).toISOString();
        const body = { amount: 70, source: 'promo', grantId: `lot-${i}`, expiresAt };
        await ok(svc, { path: `/v1/accounts/acc-lot-${i}/grants`, body, key: `lot-g-${i}` });
      }
      await ok(svc, { path: '/v1/accounts/acc-wd/grants', body: { amount: 1000, source: 'purchase' }, key: 'wd-g' });
      await caughtUp(svc, pool);
      // Nothing left to send (the lots' credits.expiring included): an outbound case's sends are its own.
      await until(async () => (await outbound(pool)).settled);
    } finally {
      await svc.stop();
    }
  }, 120_000);

  it("dies at each outbound site while a command's deliveries are recorded and sent", async () => {
    const failures: unknown[] = [];
    for (const c of outboundCases) {
      const [before, receivedBefore] = [(await outbound(pool)).checkpoint, receiver.received.length];
      const svc = await service({ LEDGER_CRASH_AT: c.site });
      const reply = await send(svc, c.type.target(c.tag, known)).catch(() => undefined);
      const { signal } = await exitOf(svc);
      crashed.push({ site: c.site, command: c.type.name, signal, answered: !!reply });
      if (signal !== 'SIGKILL') failures.push({ site: c.site, command: c.type.name, signal });
      if (c.site === 'outbound.after-send') {
        // The receiver answered 2xx to all of them, and not one is marked: each is owed still.
        const ids = receiver.received.slice(receivedBefore).map((r) => r.headers['webhook-id']!);
        const { rows } = await pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ledger_api.outbound_deliveries WHERE webhook_id = ANY($1) AND status = 'pending'`,
          [ids],
        );
        if (ids.length === 0 || rows[0]!.n !== new Set(ids).size)
          failures.push({ site: c.site, command: c.type.name, ids, pending: rows[0]!.n });
        sentUnmarked.push({ ids, receivedBefore: receiver.received.length });
      } else {
        // The batch that reached the site committed: its checkpoint moved, its deliveries are all there.
        const { checkpoint } = await outbound(pool);
        const missing = await owedWithoutDelivery(pool, before, checkpoint);
        if (checkpoint <= before || missing.length > 0)
          failures.push({ site: c.site, command: c.type.name, before, checkpoint, missing });
      }
    }
    expect(failures).toEqual([]);
  }, 300_000);

  it('dies at each projector site while a command is projected (then catches up unarmed)', async () => {
    for (const c of projectorCases) {
      const svc = await service({ LEDGER_CRASH_AT: c.site });
      const reply = await send(svc, c.type.target(c.tag, known)).catch(() => undefined);
      crashed.push({ site: c.site, command: c.type.name, signal: (await exitOf(svc)).signal, answered: !!reply });
      // The next case starts from read models that hold everything, so its own batch is the first.
      // (A crash after the commit left nothing behind.)
      if (c.site === 'projector.after-commit') continue;
      const recovery = await service();
      await caughtUp(recovery, pool);
      await recovery.stop();
    }
    expect(crashed.filter((c) => c.signal !== 'SIGKILL')).toEqual([]);
  }, 300_000);

  it('dies at each command-executor site for a command of every type, before answering', async () => {
    // Side by side, as replicas of one database would be: each case's command goes to its own process.
    const failures: unknown[] = [];
    await inLanes(executorCases, LANES, async (c) => {
      // No projector in these: the last process projects what they appended (a restart's catch-up).
      const svc = await service({ LEDGER_CRASH_AT: c.site, LEDGER_PROJECTOR: 'external' });
      const reply = await send(svc, c.type.target(c.tag, known)).catch(() => undefined);
      const { signal } = await exitOf(svc);
      crashed.push({ site: c.site, command: c.type.name, signal, answered: !!reply });
      if (signal !== 'SIGKILL' || reply) failures.push({ site: c.site, command: c.type.name, signal, reply });
    });
    expect(failures).toEqual([]);
  }, 400_000);

  it("dies at each site the watchdog's lot and project expiries reach", async () => {
    const sweep = { LEDGER_WATCHDOG: 'on', LEDGER_WATCHDOG_INTERVAL_MS: '50' };
    const failures: unknown[] = [];
    const crashOnce = async (site: CrashSite, command: string) => {
      const svc = await service({ ...sweep, LEDGER_CRASH_AT: site });
      const { signal } = await exitOf(svc);
      crashed.push({ site, command, signal, answered: false });
      if (signal !== 'SIGKILL') failures.push({ site, command, signal });
    };
    // Lots first: a sweep expires due projects before lots, and none is due yet.
    await until(async () => Date.now() > lotsExpireAt);
    for (const site of lotExpirySites) await crashOnce(site, 'expire-credits');
    const setup = await service();
    const deadlines: number[] = [];
    for (let i = 0; i < WATCHDOG_PROJECTS; i++) {
      const body = { projectId: `p-wd-${i}`, accountId: 'acc-wd', cost: 10, deadlineSeconds: 1 };
      await ok(setup, { path: '/v1/projects', body, key: `wd-start-${i}` });
      deadlines.push(Date.now() + 1_000);
    }
    await caughtUp(setup, pool);
    await setup.stop();
    await until(async () => Date.now() > Math.max(...deadlines));
    for (const site of projectExpirySites) await crashOnce(site, 'expire-project');
    expect(failures).toEqual([]);
  }, 300_000);

  it('applies every retried command exactly once, holds every invariant, projects a fold of the log, and sends every delivery owed', async () => {
    // Every sender so far is dead (killed or stopped): the leases on what they claimed would run out
    // 30 s on (a sender's timeout and margin). Moved to now: the wait a restart would make, skipped.
    await pool.query(
      `UPDATE ledger_api.outbound_deliveries SET next_attempt_at = now() WHERE status = 'pending' AND next_attempt_at > now()`,
    );
    const svc = await service({ LEDGER_WATCHDOG: 'on', LEDGER_WATCHDOG_INTERVAL_MS: '50' });
    const store = await PostgresEventStore.connect({ connectionString: databaseUrl, poolSize: 2 });
    try {
      const twice: unknown[] = [];
      for (const c of httpCases) {
        const request = c.type.target(c.tag, known);
        const first = await send(svc, request);
        const again = await send(svc, request);
        if (![200, 201].includes(first.status) || JSON.stringify(again) !== JSON.stringify(first)) {
          twice.push({ site: c.site, command: c.type.name, first, again });
        }
        const { where, values } = c.type.applied(c.tag, request.key ?? '');
        const { rows } = await pool.query<{ commands: number; events: number }>(
          `SELECT count(DISTINCT metadata->>'commandId')::int AS commands, count(*)::int AS events
           FROM event_store.events WHERE ${where}`,
          values,
        );
        if (rows[0]!.commands !== 1 || rows[0]!.events < 1)
          twice.push({ site: c.site, command: c.type.name, ...rows[0] });
      }
      expect(twice).toEqual([]);
      // The watchdog, restarted, finishes what its killed sweeps began: once each.
      for (let i = 0; i < EXPIRING_LOTS; i++) await until(async () => (await lotStatus(svc, i)) === 'expired');
      for (let i = 0; i < WATCHDOG_PROJECTS; i++)
        await until(async () => (await project(svc, `p-wd-${i}`)) === 'failed');
      expect(await countEvents(`event_type = 'ProjectFailed' AND stream_name LIKE 'project-p-wd-%'`)).toBe(
        WATCHDOG_PROJECTS,
      );
      expect(await countEvents(`event_type = 'Refunded' AND data->>'projectId' LIKE 'p-wd-%'`)).toBe(WATCHDOG_PROJECTS);
      expect(await countEvents(`event_type = 'CreditsExpired' AND data->>'grantId' LIKE 'lot-%'`)).toBe(EXPIRING_LOTS);
      // A revocation that was appended holds after the restart: the key is refused.
      if (selected(revokeCase.site)) {
        const revokedSecret = known.get(`setup-key-${revokeCase.tag}:secret`)!;
        const refused = await fetch(`${svc.url}/v1/accounts/acc-wd`, {
          headers: { authorization: `Bearer ${revokedSecret}` },
        });
        expect(refused.status).toBe(401);
      }

      await caughtUp(svc, pool);
      const audit = await get(svc, '/v1/audit/reconciliation');
      expect({ mismatches: audit.mismatches, violations: audit.violations }).toEqual({
        mismatches: [],
        violations: [],
      });
      expect(audit.checkedAccounts).toBeGreaterThan(EXPIRING_LOTS);
      expect(await compareWithFold(pool, store)).toEqual({ missing: 0, duplicated: 0, wrong: 0, rows: [] });

      // I8: every delivery owed reached the receiver, none marked sent that it did not get.
      await until(async () => (await outbound(pool)).settled, 60_000);
      const { checkpoint } = await outbound(pool);
      expect(await owedWithoutDelivery(pool, BigInt(endpoint.position), checkpoint)).toEqual([]);
      const { rows: deliveries } = await pool.query<{ webhook_id: string; body: string; status: string }>(
        'SELECT webhook_id, body, status FROM ledger_api.outbound_deliveries',
      );
      const bodiesById = new Map<string, Set<string>>();
      const idsByBody = new Map<string, Set<string>>();
      for (const request of receiver.received) {
        const id = request.headers['webhook-id']!;
        bodiesById.set(id, (bodiesById.get(id) ?? new Set()).add(request.body));
        idsByBody.set(request.body, (idsByBody.get(request.body) ?? new Set()).add(id));
      }
      const notReceived = deliveries.filter(
        (d) => d.status !== 'succeeded' || !bodiesById.get(d.webhook_id)?.has(d.body),
      );
      expect(notReceived).toEqual([]);
      // A delivery sent again carries the same webhook-id and the same bytes.
      expect([...bodiesById].filter(([, bodies]) => bodies.size > 1)).toEqual([]);
      expect([...idsByBody].filter(([, ids]) => ids.size > 1)).toEqual([]);
      expect(unverified).toEqual([]);
      expect(receiver.received.every((r) => r.path === '/crash-matrix')).toBe(true);
      // What a killed sender got a 2xx for but never marked was sent again.
      const notResent = sentUnmarked.flatMap(({ ids, receivedBefore }) => {
        const later = new Set(receiver.received.slice(receivedBefore).map((r) => r.headers['webhook-id']));
        return ids.filter((id) => !later.has(id));
      });
      expect(notResent).toEqual([]);
      process.stdout.write(
        `crash matrix outbound: ${deliveries.length} deliveries, ${receiver.received.length} requests, ${receiver.received.length - bodiesById.size} sent again\n`,
      );
    } finally {
      await store.close();
      await svc.stop();
    }
    process.stdout.write(
      `crash matrix: ${new Set(crashed.map((c) => c.site)).size} sites of ${CRASH_SITES.length}, ${crashed.length} crashes\n`,
    );
  }, 180_000);

  /** The catalogued events in (after, upTo] that have no delivery row for the endpoint. */
  async function owedWithoutDelivery(db: pg.Pool, after: bigint, upTo: bigint): Promise<string[]> {
    const { rows } = await db.query<{ position: string; event_type: string }>(
      `SELECT e.position::text, e.event_type FROM event_store.events e
       WHERE e.position > $1 AND e.position <= $2 AND e.position > $3 AND e.event_type = ANY($4)
         AND NOT EXISTS (SELECT 1 FROM ledger_api.outbound_deliveries d
                         WHERE d.event_position = e.position AND d.type <> 'credits.expiring')`,
      [String(after), String(upTo), endpoint.position, [...CATALOGUED]],
    );
    return rows.map((r) => `${r.event_type}@${r.position}`);
  }

  async function countEvents(where: string): Promise<number> {
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM event_store.events WHERE ${where}`,
    );
    return rows[0]!.n;
  }
});

async function send(svc: ServiceProcess, request: Request): Promise<{ status: number; body: Record<string, unknown> }> {
  const raw = JSON.stringify(request.body);
  const response = await fetch(`${svc.url}${request.path}`, {
    method: 'POST',
    headers: headersOf(request, raw),
    body: raw,
  });
  const text = await response.text();
  const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  // The secret is in a creation's first answer only, by design: not part of the replayed answer.
  if (request.path === '/v1/api-keys') delete body.secret;
  return { status: response.status, body };
}

async function ok(svc: ServiceProcess, request: Request): Promise<void> {
  const reply = await send(svc, request);
  if (reply.status >= 300) throw new Error(`${request.path}: ${reply.status} ${JSON.stringify(reply.body)}`);
}

async function get(svc: ServiceProcess, path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_SECRET}` } });
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 200) throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

async function project(svc: ServiceProcess, id: string): Promise<unknown> {
  return (await get(svc, `/v1/projects/${id}`)).status;
}

async function lotStatus(svc: ServiceProcess, i: number): Promise<unknown> {
  const { items } = (await get(svc, `/v1/accounts/acc-lot-${i}/lots?status=expired`)) as { items: unknown[] };
  return items.length === 1 ? 'expired' : 'not yet';
}

/**
 * The outbound side of the database: the dispatcher's checkpoint, and settled once it has
 * taken in the whole log, every delivery is marked succeeded and no lot awaits its notice.
 */
async function outbound(pool: pg.Pool): Promise<{ checkpoint: bigint; settled: boolean }> {
  const { rows } = await pool.query<{ checkpoint: string; head: string; open: number; lots: number }>(
    `SELECT (SELECT coalesce(max(position), 0) FROM ledger_api.outbound_checkpoint) AS checkpoint,
            (SELECT coalesce(max(position), 0) FROM event_store.events) AS head,
            (SELECT count(*)::int FROM ledger_api.outbound_deliveries WHERE status <> 'succeeded') AS open,
            (SELECT count(*)::int FROM ledger_api.outbound_lots) AS lots`,
  );
  const { checkpoint, head, open, lots } = rows[0]!;
  return { checkpoint: BigInt(checkpoint), settled: checkpoint === head && open === 0 && lots === 0 };
}

/** Every read model has applied the store's head (read-your-writes, bounded). */
async function caughtUp(svc: ServiceProcess, pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ head: string }>(
    'SELECT coalesce(max(position), 0) AS head FROM event_store.events',
  );
  await get(svc, `/v1/projects?limit=1&minPosition=${rows[0]!.head}&waitMs=20000`);
}

async function exitOf(svc: ServiceProcess) {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the armed service did not die in time')), EXIT_WAIT_MS);
  });
  try {
    return await Promise.race([svc.exited, bound]);
  } catch (error) {
    await svc.stop();
    return { code: null, signal: `not killed: ${(error as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}

/** Re-checks a condition the service makes true; fails after `timeoutMs`. */
async function until(condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Runs `work` on every item, at most `lanes` at a time. */
async function inLanes<T>(items: readonly T[], lanes: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}
