import pg from 'pg';
import { idempotencyStream } from '@ledger/domain';
import { StoreUnavailableError } from '@ledger/event-store';
import { GroupRunner, type MemberResult } from '@ledger/platform';
import { ApiError } from '../errors/api-error.js';
import type { Answer, CommandContext } from './idempotency.js';
import { RefusalRecords, type RefusalRow } from './refusals.js';

/** A key as claimed for one batch: whether this replica holds it, and what the key's last holder kept. */
export interface KeyClaim {
  context: CommandContext;
  /** Held by this replica's lock session (no other replica's command with this key is running). */
  held: boolean;
  /** The lock session it was taken on: a lost session took its locks with it. */
  session: number;
  /** The refusal kept for the key, read after the lock was taken. */
  refusal: RefusalRow | undefined;
}

/** A command whose key's lock went with its lost session: nothing of it is stored, retry with the same key (503). */
export function lockSessionLost(): StoreUnavailableError {
  return new StoreUnavailableError('lost the lock session of the idempotency keys');
}

/** A repeat of a key whose first request another replica is still running: retry with the same key. */
export function requestInFlight(): ApiError {
  return new ApiError(
    409,
    'request_in_flight',
    'a request with this Idempotency-Key is still running; retry with the same key after Retry-After to get its answer',
    undefined,
    { 'retry-after': '1' },
  );
}

// Groups of claims (and of releases) in one statement each, on the one lock session.
const GROUP_MAX = 500;
// A key let go waits this long for a claim to carry its unlock, then goes in a statement of
// its own: at one command at a time, the next command's claim comes well within it.
const RELEASE_WAIT_MS = 5;
const CONNECT_TIMEOUT_MS = 5_000;
export const KEY_LOCKS_APPLICATION = 'ledger-api key locks';
const QUERY_TIMEOUT_MS = 20_000;

/** A refusal to keep as its claim's answer. */
interface Keep {
  claim: KeyClaim;
  answer: Answer;
}

/** A lock to let go, with the session it was taken on. */
interface HeldLock {
  lock: bigint;
  session: number;
}

interface ClaimRow {
  n: string;
  locked: boolean;
  request_hash: string | null;
  status: number | null;
  body: string | null;
}

/**
 * One answer per Idempotency-Key across replicas. Without it, two replicas given the same
 * key at the same moment could each decide it: one refuses (and keeps the refusal), the
 * other, having looked refusals up before it was kept and seen the balance after a grant,
 * accepts; the client then holds a 402 for a debit that was applied.
 *
 * Each command's key is locked (a PostgreSQL session-level advisory lock on the ledger's
 * own database, present with either event store) from before its batch is decided until
 * its answer is stored: its events and record appended, or its refusal kept. A replica that
 * finds the key held by another answers 409 `request_in_flight` with `Retry-After`, as
 * Stripe does, rather than wait for it: waiting would hold a connection per waiting key
 * (a blocked `pg_advisory_lock` holds its session) or poll, for a first request that may
 * run for seconds (conflict retries, a slow store); the repeat is answered at once, and
 * the client, which already retries 429 and 503 with the same key, retries this too.
 *
 * Why a lock and not an in-flight row (Stripe's way): the lock costs no write, and dies
 * with its session, so a replica that crashes frees its keys at once, where a row needs an
 * expiry that makes a retry after a crash wait it out.
 *
 * Cost: none on the normal path's round trips, and no statement of its own. The claim is
 * the statement that used to look kept refusals up (it still does, after taking the locks),
 * run beside the read of the records and streams as before; the release, asked for once
 * the answer is stored and not waited for, rides the next claim (up to RELEASE_WAIT_MS
 * later; a statement of its own only when no claim comes by then). All of a replica's
 * locks are on one session: locks there are reentrant, so two commands of one replica
 * with the same key (the same request in one queue, one after the other) behave exactly
 * as before.
 *
 * A session lost takes its locks with it: the claims taken on it are no longer held
 * (`stillHeld`), and nothing is stored for them. A refusal is kept on the lock session
 * itself (`keepRefusal`), so it commits only while the key's lock lives: a fence. An
 * acceptance cannot be (its append goes to the event store, on another connection):
 * `stillHeld` is checked just before it, and the window left is that one append. If the
 * session dies on the server after that check, another replica may take the key before
 * the append commits; if it accepts too, one of the two appends conflicts on the key's
 * record and answers with the other's; if it refuses, its `refuse` looks the acceptance up
 * before and after keeping the refusal, and only an append that commits after its second
 * look leaves two answers (402 and 201).
 *
 * Releases, claims and refusals each carry the session they belong to: a release or a
 * refusal asked for on a session since lost does nothing on the next one (where the same
 * key may be locked again, by a retry still running).
 */
export class KeyLocks {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  /** Which session is open: a claim taken on an earlier one is no longer held. */
  private session = 0;
  private closed = false;
  /** Locks let go and not unlocked yet: the next claim (or the release timer) takes them. */
  private letGo: HeldLock[] = [];
  private releaseTimer: NodeJS.Timeout | undefined;

  private readonly claims = new GroupRunner<CommandContext, KeyClaim>((contexts) => this.claimGroup(contexts), {
    maxInFlight: 1,
    maxGroup: GROUP_MAX,
  });
  private readonly releases = new GroupRunner<HeldLock, void>((locks) => this.releaseGroup(locks), {
    maxInFlight: 1,
    maxGroup: GROUP_MAX,
  });

  private readonly keeps = new GroupRunner<Keep, void>((keeps) => this.keepGroup(keeps), {
    maxInFlight: 1,
    maxGroup: GROUP_MAX,
  });

  constructor(
    private readonly connectionString: string,
    /** How long a key let go waits for a claim to carry its unlock (a test makes it long). */
    private readonly releaseWaitMs = RELEASE_WAIT_MS,
  ) {}

  /** Locks the key if no other replica holds it, and reads the refusal kept for it. */
  claim(context: CommandContext): Promise<KeyClaim> {
    return this.claims.submit(context);
  }

  /** True while the session the claim was taken on is open (so the lock is still this replica's). */
  stillHeld(claim: KeyClaim): boolean {
    return !claim.held || (this.client !== undefined && claim.session === this.session);
  }

  /**
   * Keeps a refusal as its key's answer, on the lock session itself: it commits only while
   * that session, and so the key's lock, lives, and whoever takes the key next claims it
   * after that and reads it (see claim_keys). A claim whose session is known lost keeps
   * nothing: 503, retry with the same key (another replica may hold the key and accept it).
   */
  keepRefusal(claim: KeyClaim, answer: Answer): Promise<void> {
    return this.keeps.submit({ claim, answer });
  }

  /**
   * Lets the keys go, without waiting: their answers are stored, so whoever takes a key next
   * finds them. A lock of a session since lost went with it; an unlock that fails leaves
   * the lock to the session's end (the client is then broken and gets closed).
   */
  release(claims: readonly KeyClaim[]): void {
    for (const claim of claims) {
      if (claim.held && claim.session === this.session) {
        this.letGo.push({ lock: lockOf(claim.context), session: claim.session });
      }
    }
    if (this.letGo.length > 0 && this.releaseTimer === undefined && !this.closed) {
      this.releaseTimer = setTimeout(() => {
        this.releaseTimer = undefined;
        // No claim came to carry them: a statement of their own.
        for (const held of this.takeLetGo()) this.releases.submit(held).catch(() => undefined);
      }, this.releaseWaitMs);
      // Pending unlocks never keep a process alive: its session's end lets go of everything.
      this.releaseTimer.unref();
    }
  }

  /** The locks let go so far that are this session's (a lost session's went with it). */
  private takeLetGo(): HeldLock[] {
    const taken = this.letGo.filter((held) => held.session === this.session);
    this.letGo = [];
    clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    return taken;
  }

  async close(): Promise<void> {
    this.closed = true;
    // Ending the session lets go of every lock it holds.
    clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    this.letGo = [];
    const client = this.client;
    this.client = undefined;
    this.session++;
    await client?.end().catch(() => undefined);
  }

  private async claimGroup(contexts: CommandContext[]): Promise<MemberResult<KeyClaim>[]> {
    const client = await this.connection();
    // Lost again before this ran: its session number would be the next one's.
    if (this.client !== client) throw lockSessionLost();
    const session = this.session;
    // The keys let go since the last statement: unlocked by this claim, after it takes its own locks.
    const unlocks = this.takeLetGo();
    const { rows } = await this.run<ClaimRow>(client, {
      name: 'ledger_api.claim_keys',
      text: 'SELECT n, locked, request_hash, status, body FROM ledger_api.claim_keys($1::bigint[], $2::bigint[], $3::text[], $4::text[])',
      values: [
        unlocks.map((held) => held.lock.toString()),
        contexts.map((c) => lockOf(c).toString()),
        contexts.map((c) => c.caller),
        contexts.map((c) => c.idempotencyKey),
      ],
    });
    const claims: MemberResult<KeyClaim>[] = contexts.map((context) => ({
      ok: true,
      value: { context, held: false, session, refusal: undefined },
    }));
    for (const row of rows) {
      const context = contexts[Number(row.n) - 1]!;
      const refusal =
        row.request_hash === null
          ? undefined
          : { request_hash: row.request_hash, status: row.status!, body: row.body! };
      claims[Number(row.n) - 1] = { ok: true, value: { context, held: row.locked, session, refusal } };
    }
    return claims;
  }

  private async keepGroup(keeps: Keep[]): Promise<MemberResult<void>[]> {
    const client = this.client;
    const held = keeps.map(({ claim }) => client !== undefined && claim.held && claim.session === this.session);
    const kept = keeps.filter((_, i) => held[i]);
    if (client !== undefined && kept.length > 0) {
      await this.run(
        client,
        RefusalRecords.keepStatement(kept.map(({ claim, answer }) => ({ context: claim.context, answer }))),
      );
    }
    return held.map((ok) => (ok ? { ok: true, value: undefined } : { ok: false, error: lockSessionLost() }));
  }

  private async releaseGroup(held: HeldLock[]): Promise<MemberResult<void>[]> {
    const client = this.client;
    // Only the current session's: a lock of a session lost since the release was asked for went
    // with it, and the same key may be locked again on this one, by a retry still running.
    const locks = client === undefined ? [] : held.filter((h) => h.session === this.session).map((h) => h.lock);
    if (client !== undefined && locks.length > 0) {
      await this.run<{ pg_advisory_unlock: boolean }>(client, {
        name: 'ledger_api.release_keys',
        text: 'SELECT pg_advisory_unlock(l) FROM unnest($1::bigint[]) AS l',
        values: [locks.map(String)],
      });
    }
    return held.map(() => ({ ok: true, value: undefined }));
  }

  /**
   * A statement on the lock session. One that fails or times out may still have taken its
   * locks on the server: the session is ended, so that they go with it, never held for good.
   */
  private async run<Row extends pg.QueryResultRow>(
    client: pg.Client,
    query: pg.QueryConfig,
  ): Promise<pg.QueryResult<Row>> {
    try {
      return await client.query<Row>(query);
    } catch (error) {
      this.lose(client);
      throw error;
    }
  }

  private lose(client: pg.Client): void {
    if (this.client !== client) return;
    // Its locks are gone with it: claims taken on it are no longer held (see stillHeld).
    this.client = undefined;
    this.session++;
    void client.end().catch(() => undefined);
  }

  /** The lock session, opened again after it was lost (the database restarted, a network cut). */
  private connection(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    if (this.closed) return Promise.reject(new StoreUnavailableError('the service is stopping'));
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<pg.Client> {
    // Bounded like the store's: a server that stops answering becomes 503s, not hung commands.
    const client = new pg.Client({
      connectionString: this.connectionString,
      // How an operator (or a test) tells the lock sessions apart in pg_stat_activity.
      application_name: KEY_LOCKS_APPLICATION,
      keepAlive: true,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
    });
    const lost = () => this.lose(client);
    // Without a listener, a connection that dies while idle would end the process.
    client.on('error', lost);
    client.on('end', lost);
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      throw new StoreUnavailableError('the service is stopping');
    }
    this.session++;
    this.client = client;
    return client;
  }
}

/** The key's lock: 64 bits of the digest its idempotency stream is named by (one key, one lock). */
export function lockOf(context: CommandContext): bigint {
  const stream = idempotencyStream(context.caller, context.idempotencyKey);
  return BigInt.asIntN(64, BigInt(`0x${stream.slice(-16)}`));
}
