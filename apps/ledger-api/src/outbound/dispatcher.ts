import assert from 'node:assert';
import { crashPoint, listenWhileCheckedOut } from '@ledger/platform';
import type pg from 'pg';
import {
  NO_MONEY,
  accountIdOf,
  accountStream,
  applyMoney,
  isAccountEventType,
  webhookEndpointIdOf,
  type AccountEvent,
  type AccountSettingsEvent,
  type OutboundEventType,
  type WebhookEndpointEvent,
} from '@ledger/domain';
import { READ_LIMIT_MAX, type EventStore, type StoredEvent, type Subscription } from '@ledger/event-store';
import { batched } from '@ledger/projections';
import { WatchdogLock } from '../watchdog/watchdog-lock.js';
import { bodyOf, eventTime, lowBalanceNotice, messageOf, subscribes, type OutboundMessage } from './messages.js';
import { noticeTables, type NoticeAccount } from './notice.tables.js';
import type { OutboundConfig } from './outbound-config.js';
import { outboundTables, type EndpointRow, type NewDelivery } from './outbound.tables.js';
import { webhookIdOf } from './signer.js';

// Beside the watchdog's (7_245_300) and the projections' namespaces.
const DISPATCHER_LOCK: readonly [number, number] = [7_245_400, 1];
const BATCH_SIZE_MAX = 500;
const EXPIRY_SWEEP_EVERY_MS = 1_000;
const DUE_LOTS_LIMIT = 500;
/**
 * A batch that owes nothing and changes no state of the fold commits nothing: its
 * checkpoint is written with the next batch that does, or at most this late (or after
 * this many such events). Re-reading that range after a crash owes nothing either.
 */
const CHECKPOINT_FLUSH_MS = 500;
const CHECKPOINT_FLUSH_EVENTS = 5_000;
/** The catalogue types whose data (`balanceAfter`) or whose notice (balance.low) needs the account's balance. */
const BALANCE_TYPES: readonly OutboundEventType[] = [
  'credits.granted',
  'credits.debited',
  'credits.refunded',
  'credits.expired',
  'credits.voided',
  'balance.low',
];

export interface DispatcherLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

export interface DispatcherOptions {
  pool: pg.Pool;
  connectionString: string;
  store: EventStore;
  config: OutboundConfig;
  log: DispatcherLog;
  /** The service clock: what credits.expiring judges "before its expiry" by. */
  now: () => Date;
  /** Called after a commit that added deliveries: this replica's senders start at once. */
  onDeliveries: () => void;
}

/**
 * Follows the ledger's log from its own checkpoint (one active across replicas: a
 * Postgres advisory lock elects it) and turns each event into what other services are
 * owed: a delivery row per subscribed, enabled endpoint, written **in the transaction
 * that moves the checkpoint** (I8). A crash before the commit replays the batch; the
 * delivery's webhook-id derives from the event and endpoint, so nothing is lost and
 * nothing is owed twice. It also folds what notices need (balances, thresholds, lots).
 *
 * What it costs a command when there is little to do: a batch that owes nothing and
 * changes nothing of the fold opens no transaction (its checkpoint is written with the
 * next one that does, or within CHECKPOINT_FLUSH_MS); and the accounts' balances are
 * kept only while an enabled endpoint subscribes to a type that needs them
 * (BALANCE_TYPES). When one is enabled again every kept balance is forgotten, and an
 * account's balance is folded from its stream, up to the event at hand, the first time
 * it is needed: so `balanceAfter` and balance.low are exact from the first event after.
 */
export class OutboundDispatcher {
  private readonly lock: WatchdogLock;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private subscription: Subscription | undefined;
  private endpoints = new Map<string, EndpointRow>();
  /** Every event up to here is folded: its deliveries and state committed, or it owed nothing. */
  private checkpointPosition = 0n;
  /** The checkpoint as committed in outbound_checkpoint (at most checkpointPosition). */
  private savedPosition = 0n;
  /** When the checkpoint fell behind the fold (a batch that owed nothing), and by how many events. */
  private unsavedSinceMs: number | undefined;
  private unsavedEvents = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private lastExpirySweepMs = 0;
  /** The log head a due credits.expiring sweep waits for the fold to reach, so it judges no stale lot. */
  private sweepAt: bigint | undefined;
  /** The fold and the sweep take turns: a sweep sees the state of one committed checkpoint. */
  private turn: Promise<unknown> = Promise.resolve();
  /** `account\ngrant` of the lots in outbound_lots: debits and refunds of other lots need no statement. */
  private awaitingNotice = new Set<string>();

  constructor(private readonly options: DispatcherOptions) {
    this.lock = new WatchdogLock(
      options.connectionString,
      () => {
        options.log.warn({}, 'outbound dispatcher: lost the lock session; standing by');
        void this.subscription?.close();
      },
      DISPATCHER_LOCK,
    );
  }

  get active(): boolean {
    return this.lock.held;
  }

  /** The position this process's fold has reached (0 on a standby); the committed checkpoint may trail it. */
  get position(): bigint {
    return this.checkpointPosition;
  }

  start(): void {
    this.running = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.subscription?.close();
    await this.running;
    // What the fold reached, so the next start re-reads no more than it must.
    if (this.lock.held) await this.inTurn(() => this.flushCheckpoint()).catch(() => undefined);
    await this.lock.release();
  }

  private run(signal: AbortSignal): Promise<void> {
    return this.lock.runWhileHeld(
      () => this.follow(signal),
      signal,
      (error) => this.options.log.warn({ err: error }, 'outbound dispatcher: following the log failed; starting again'),
    );
  }

  /** While this process holds the lock: load the fold's state, then apply the log batch by batch. */
  private async follow(signal: AbortSignal): Promise<void> {
    const { pool } = this.options;
    this.checkpointPosition = await outboundTables.checkpoint(pool);
    this.savedPosition = this.checkpointPosition;
    this.unsavedSinceMs = undefined;
    this.unsavedEvents = 0;
    this.endpoints = new Map((await outboundTables.endpoints(pool)).map((e) => [e.endpoint_id, e]));
    // Loaded again on every (re)start of the fold: a batch that failed may have left this set ahead of the table.
    this.awaitingNotice = await noticeTables.lotKeys(pool);
    this.sweepAt = undefined;
    this.options.log.info({ position: String(this.checkpointPosition) }, 'outbound dispatcher: active');
    const subscription = this.options.store.subscribeToAll({ afterPosition: this.checkpointPosition });
    this.subscription = subscription;
    // stop() came while this was being set up: it closed no subscription, and this one would wait for events.
    if (signal.aborted) return subscription.close();
    const ticker = setInterval(() => void this.sweepExpiring().catch(() => undefined), EXPIRY_SWEEP_EVERY_MS);
    try {
      for await (const batch of batched(subscription, BATCH_SIZE_MAX)) {
        if (signal.aborted || !this.lock.held) break;
        await this.inTurn(() => this.apply(batch));
      }
    } finally {
      clearInterval(ticker);
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      await subscription.close();
    }
  }

  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const next = this.turn.then(work);
    this.turn = next.catch(() => undefined);
    return next;
  }

  /**
   * One batch: the deliveries it owes, what notices need, and the checkpoint, in one
   * transaction; or, when it owes nothing and changes nothing, no transaction at all.
   * An event at or below the checkpoint (redelivered) is skipped: folded twice it would
   * drift the balances and lots.
   */
  private async apply(batch: readonly StoredEvent[]): Promise<void> {
    const events = batch.filter((event) => event.position > this.checkpointPosition);
    if (events.length === 0) return;
    const last = events[events.length - 1]!.position;
    let fold: BatchFold | undefined;
    // A fold that reads no row (no balance kept, no endpoint changed) runs before any transaction:
    // the batch may owe nothing and change nothing, and then it needs none.
    if (!this.foldReadsRows(events)) {
      fold = await this.fold(events, undefined);
      if (fold.writes.length === 0 && fold.deliveries.length === 0 && fold.saveAccounts.size === 0 && !fold.forget) {
        this.checkpointPosition = last;
        this.checkpointLags(events.length);
        return;
      }
    }
    const client = await this.options.pool.connect();
    // A connection that dies while out (PostgreSQL killed) must not end the process: its queries fail.
    const release = listenWhileCheckedOut(client);
    try {
      await client.query('BEGIN');
      // Fenced: a dispatcher that lost its lock while another moved on must not write behind it.
      const committed = await outboundTables.lockCheckpoint(client);
      if (committed !== this.savedPosition) {
        throw new Error(`the outbound checkpoint moved to ${committed} under this dispatcher`);
      }
      fold ??= await this.fold(events, client);
      if (fold.forget) await noticeTables.forgetBalances(client);
      for (const write of fold.writes) await write(client);
      await outboundTables.insertDeliveries(client, fold.deliveries);
      await noticeTables.saveAccounts(client, fold.saveAccounts);
      await outboundTables.saveCheckpoint(client, last);
      await client.query('COMMIT');
      if (fold.deliveries.length > 0) crashPoint('outbound.after-record-deliveries');
      this.endpoints = fold.endpoints;
      this.checkpointPosition = last;
      this.checkpointSaved(last);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      release();
    }
    if (fold.deliveries.length > 0) this.options.onDeliveries();
  }

  /** The batch's accounts' rows are read when balances are kept, or an endpoint may start keeping them. */
  private foldReadsRows(events: readonly StoredEvent[]): boolean {
    return keepsBalances(this.endpoints) || events.some((event) => webhookEndpointIdOf(event.streamName) !== undefined);
  }

  /**
   * The batch folded: the deliveries it owes and the statements that keep the fold's
   * state (endpoints, thresholds, balances while kept, lots), none run yet. `db` (the
   * batch's transaction) reads the accounts' rows when foldReadsRows says so.
   */
  private async fold(events: readonly StoredEvent[], db: pg.PoolClient | undefined): Promise<BatchFold> {
    const endpoints = new Map(this.endpoints);
    let keeping = keepsBalances(endpoints);
    const rows = new Map<string, NoticeAccount>();
    if (this.foldReadsRows(events)) {
      assert(db, 'a fold that reads the accounts runs in its batch transaction');
      const ids = new Set<string>();
      for (const event of events) {
        const id = accountIdOf(event.streamName) ?? settingsAccountOf(event);
        if (id !== undefined) ids.add(id);
      }
      for (const [id, row] of await noticeTables.accounts(db, [...ids])) rows.set(id, row);
    }
    const result: BatchFold = { endpoints, writes: [], deliveries: [], saveAccounts: new Map(), forget: false };
    // An account without a row has had no event while balances were kept: its balance is folded from its stream.
    const accountOf = (id: string): NoticeAccount =>
      result.saveAccounts.get(id) ?? rows.get(id) ?? { balance: undefined, threshold: undefined };
    const owe = (message: OutboundMessage) => {
      const body = bodyOf(message);
      const retryUntil = new Date(Date.now() + this.options.config.retry.windowMs);
      for (const endpoint of endpoints.values()) {
        if (endpoint.status !== 'enabled' || !subscribes(endpoint.events, message.type)) continue;
        const webhookId = webhookIdOf(endpoint.endpoint_id, message.key);
        result.deliveries.push({
          endpointId: endpoint.endpoint_id,
          webhookId,
          type: message.type,
          position: message.position,
          body,
          retryUntil,
        });
      }
    };
    for (const event of events) {
      const endpointId = webhookEndpointIdOf(event.streamName);
      if (endpointId !== undefined) {
        const row = evolveEndpointRow(
          endpoints.get(endpointId),
          event as unknown as WebhookEndpointEvent & StoredEvent,
        );
        if (!row) continue;
        endpoints.set(endpointId, row);
        result.writes.push((client) => outboundTables.upsertEndpoint(client, row));
        const wasKeeping = keeping;
        keeping = keepsBalances(endpoints);
        if (keeping && !wasKeeping) {
          // Kept again after a time when they were not: every balance kept before is stale from here.
          result.forget = true;
          for (const [id, account] of [...rows, ...result.saveAccounts]) {
            const forgotten = { ...account, balance: undefined };
            if (result.saveAccounts.has(id)) result.saveAccounts.set(id, forgotten);
            rows.set(id, forgotten);
          }
        }
        continue;
      }
      const settingsAccount = settingsAccountOf(event);
      if (settingsAccount !== undefined) {
        const { lowBalanceThreshold } = (event as unknown as AccountSettingsEvent).data;
        const account = accountOf(settingsAccount);
        result.saveAccounts.set(settingsAccount, {
          balance: keeping ? account.balance : undefined,
          threshold: lowBalanceThreshold,
        });
        continue;
      }
      const accountId = accountIdOf(event.streamName);
      if (accountId !== undefined && isAccountEventType(event.type)) {
        const accountEvent = event as unknown as AccountEvent;
        if (keeping) {
          const account = accountOf(accountId);
          const before = account.balance ?? (await this.balanceBefore(accountId, event.position));
          const after = applyMoney({ ...NO_MONEY, balance: before }, accountEvent).balance;
          result.saveAccounts.set(accountId, { ...account, balance: after });
          const message = messageOf(event, after);
          if (message) owe(message);
          const threshold =
            account.threshold === undefined ? (this.options.config.lowBalanceThreshold ?? null) : account.threshold;
          const low = lowBalanceNotice(event, accountId, before, after, threshold);
          if (low) owe(low);
        }
        // Not kept: no enabled endpoint subscribes to a credits.* type or balance.low, so none is owed.
        this.foldLots(result.writes, accountId, event, accountEvent);
        continue;
      }
      const message = messageOf(event, undefined);
      if (message) owe(message);
    }
    return result;
  }

  /** The account's balance before the event at `position`, folded from its stream. */
  private async balanceBefore(accountId: string, position: bigint): Promise<number> {
    let money = NO_MONEY;
    for (let fromRevision = 0n; ;) {
      const page = await this.options.store.readStream(accountStream(accountId), {
        fromRevision,
        limit: READ_LIMIT_MAX,
      });
      for (const event of page) {
        if (event.position >= position) return money.balance;
        if (isAccountEventType(event.type)) money = applyMoney(money, event as unknown as AccountEvent);
      }
      if (page.length < READ_LIMIT_MAX) return money.balance;
      fromRevision = page[page.length - 1]!.revision + 1n;
    }
  }

  /**
   * Lots with an expiry wait in outbound_lots for their credits.expiring; what they hold follows the log.
   * The set of awaited lots moves with the fold; a batch that fails is followed by a reload of the set.
   */
  private foldLots(writes: BatchFold['writes'], accountId: string, event: StoredEvent, accountEvent: AccountEvent) {
    const awaiting = (grantId: string) => this.awaitingNotice.has(`${accountId}\n${grantId}`);
    switch (accountEvent.type) {
      case 'CreditsGranted': {
        const { grantId, expiresAt, amount, category } = accountEvent.data;
        if (grantId === undefined || expiresAt === undefined) return;
        const lot = { accountId, grantId, amount, expiresAt, category: category ?? null, position: event.position };
        writes.push((client) => noticeTables.addLot(client, lot));
        this.awaitingNotice.add(`${accountId}\n${grantId}`);
        return;
      }
      case 'Debited':
      case 'Refunded': {
        const sign = accountEvent.type === 'Debited' ? -1 : 1;
        const shares = (accountEvent.data.lots ?? [])
          .filter((share) => awaiting(share.grantId))
          .map((share) => ({ grantId: share.grantId, amount: sign * share.amount }));
        if (shares.length > 0) writes.push((client) => noticeTables.moveLots(client, accountId, shares));
        return;
      }
      case 'CreditsExpired':
      case 'GrantVoided': {
        const { grantId } = accountEvent.data;
        if (!awaiting(grantId)) return;
        writes.push((client) => noticeTables.dropLot(client, accountId, grantId));
        this.awaitingNotice.delete(`${accountId}\n${grantId}`);
        return;
      }
    }
  }

  /** A batch owed nothing: its checkpoint waits for the next write, for CHECKPOINT_FLUSH_MS at most. */
  private checkpointLags(events: number): void {
    this.unsavedSinceMs ??= Date.now();
    this.unsavedEvents += events;
    if (this.unsavedEvents >= CHECKPOINT_FLUSH_EVENTS || Date.now() - this.unsavedSinceMs >= CHECKPOINT_FLUSH_MS) {
      void this.inTurn(() => this.flushCheckpoint()).catch((error: unknown) => this.flushFailed(error));
      return;
    }
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      void this.inTurn(() => this.flushCheckpoint()).catch((error: unknown) => this.flushFailed(error));
    }, CHECKPOINT_FLUSH_MS);
  }

  private checkpointSaved(position: bigint): void {
    this.savedPosition = position;
    this.unsavedSinceMs = undefined;
    this.unsavedEvents = 0;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  /** The fold's position as the committed checkpoint: one statement, fenced like a batch. */
  private async flushCheckpoint(): Promise<void> {
    const position = this.checkpointPosition;
    if (position === this.savedPosition || !this.lock.held) return;
    if (!(await outboundTables.advanceCheckpoint(this.options.pool, this.savedPosition, position))) {
      throw new Error(`the outbound checkpoint moved from ${this.savedPosition} under this dispatcher`);
    }
    this.checkpointSaved(position);
  }

  private flushFailed(error: unknown): void {
    this.options.log.warn({ err: error }, 'outbound dispatcher: cannot write the checkpoint; standing by');
    // The fold goes on from the committed checkpoint (or another replica does): it owed nothing in between.
    void this.subscription?.close();
  }

  private sweeping: Promise<void> | undefined;

  /**
   * credits.expiring: lots whose expiry is within LEDGER_EXPIRY_NOTICE_HOURS, once each
   * (the lot leaves the table in the transaction that owes its deliveries). Judged only
   * once the fold has reached the log's head as it was when the sweep fell due (so on
   * lots and endpoints no older than that), between two batches, never during one.
   */
  sweepExpiring(): Promise<void> {
    if (this.sweeping) return this.sweeping;
    this.sweeping = this.sweepWhenCaughtUp().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepWhenCaughtUp(): Promise<void> {
    if (!this.lock.held || Date.now() - this.lastExpirySweepMs < EXPIRY_SWEEP_EVERY_MS / 2) return;
    // No lot awaits its notice (the set holds every lot of the table, and perhaps some already gone): no transaction.
    if (this.awaitingNotice.size === 0) return;
    this.sweepAt ??= await this.options.store.headPosition();
    if (this.checkpointPosition < this.sweepAt) return; // still folding what was pending: the next tick
    this.lastExpirySweepMs = Date.now();
    this.sweepAt = undefined;
    await this.inTurn(() => this.sweepOnce());
  }

  private async sweepOnce(): Promise<void> {
    if (!this.lock.held) return;
    const now = this.options.now();
    const noticeUntil = new Date(now.getTime() + this.options.config.expiryNoticeHours * 3_600_000);
    const client = await this.options.pool.connect();
    // A connection that dies while out (PostgreSQL killed) must not end the process: its queries fail.
    const release = listenWhileCheckedOut(client);
    let added = 0;
    try {
      await client.query('BEGIN');
      // Fenced as a batch is. The notices are judged at the fold's position (their data.position):
      // the lots' table holds every batch up to it (a batch that changes a lot always commits).
      const committed = await outboundTables.lockCheckpoint(client);
      if (committed !== this.savedPosition) {
        throw new Error(`the outbound checkpoint moved to ${committed} under this dispatcher`);
      }
      const at = this.checkpointPosition;
      const lots = await noticeTables.takeDueLots(client, now, noticeUntil, DUE_LOTS_LIMIT);
      const taken = lots.map((lot) => `${lot.account_id}\n${lot.grant_id}`);
      const deliveries: NewDelivery[] = [];
      const retryUntil = new Date(Date.now() + this.options.config.retry.windowMs);
      for (const lot of lots) {
        if (Number(lot.remaining) <= 0) continue;
        const message: OutboundMessage = {
          type: 'credits.expiring',
          key: `expiring:${lot.account_id}:${lot.grant_id}`,
          position: at,
          at: now,
          data: {
            accountId: lot.account_id,
            grantId: lot.grant_id,
            amount: Number(lot.remaining),
            category: lot.category,
            expiresAt: lot.expires_at.toISOString(),
            position: Number(at),
          },
        };
        const body = bodyOf(message);
        for (const endpoint of this.endpoints.values()) {
          if (endpoint.status !== 'enabled' || !subscribes(endpoint.events, message.type)) continue;
          deliveries.push({
            endpointId: endpoint.endpoint_id,
            webhookId: webhookIdOf(endpoint.endpoint_id, message.key),
            type: message.type,
            position: message.position,
            body,
            retryUntil,
          });
        }
      }
      await outboundTables.insertDeliveries(client, deliveries);
      if (at !== committed) await outboundTables.saveCheckpoint(client, at);
      await client.query('COMMIT');
      this.checkpointSaved(at);
      for (const key of taken) this.awaitingNotice.delete(key);
      added = deliveries.length;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      this.options.log.warn({ err: error }, 'outbound dispatcher: the credits.expiring sweep failed');
    } finally {
      release();
    }
    if (added > 0) this.options.onDeliveries();
  }
}

/** A batch folded in memory, before its transaction (OutboundDispatcher.fold). */
interface BatchFold {
  /** The endpoints after the batch. */
  endpoints: Map<string, EndpointRow>;
  /** Statements on the fold's tables (endpoints, lots), in the log's order. */
  writes: ((client: pg.PoolClient) => Promise<void>)[];
  deliveries: NewDelivery[];
  /** The accounts' rows to write: thresholds, and balances while they are kept (undefined: not known). */
  saveAccounts: Map<string, NoticeAccount>;
  /** Balances are kept again from this batch on: forget those kept before, first. */
  forget: boolean;
}

/** Whether an enabled endpoint subscribes to a type that needs the accounts' balances. */
function keepsBalances(endpoints: ReadonlyMap<string, EndpointRow>): boolean {
  for (const endpoint of endpoints.values()) {
    if (endpoint.status === 'enabled' && BALANCE_TYPES.some((type) => subscribes(endpoint.events, type))) return true;
  }
  return false;
}

function settingsAccountOf(event: StoredEvent): string | undefined {
  return event.type === 'AccountSettingsChanged' ? (event.data.accountId as string) : undefined;
}

/** The endpoint row after one of its stream's events. */
function evolveEndpointRow(
  row: EndpointRow | undefined,
  event: WebhookEndpointEvent & Pick<StoredEvent, 'position' | 'metadata' | 'createdAt'>,
): EndpointRow | undefined {
  const position = String(event.position);
  switch (event.type) {
    case 'WebhookEndpointRegistered':
      return {
        endpoint_id: event.data.endpointId,
        url: event.data.url,
        events: [...event.data.events],
        description: event.data.description ?? null,
        status: 'enabled',
        secret_id: event.data.secretId,
        previous_secret_id: null,
        previous_expires_at: null,
        created_at: eventTime(event as unknown as StoredEvent),
        position,
        updated_position: position,
      };
    case 'WebhookEndpointSecretRotated':
      return (
        row && {
          ...row,
          secret_id: event.data.secretId,
          previous_secret_id: event.data.previousSecretId,
          previous_expires_at: new Date(event.data.previousExpiresAt),
          updated_position: position,
        }
      );
    case 'WebhookEndpointDisabled':
      return row && { ...row, status: 'disabled', updated_position: position };
    case 'WebhookEndpointEnabled':
      return row && { ...row, status: 'enabled', updated_position: position };
  }
}
