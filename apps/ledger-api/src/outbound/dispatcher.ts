import { crashPoint, listenWhileCheckedOut } from '@ledger/platform';
import type pg from 'pg';
import {
  NO_MONEY,
  accountIdOf,
  applyMoney,
  isAccountEventType,
  webhookEndpointIdOf,
  type AccountEvent,
  type AccountSettingsEvent,
  type WebhookEndpointEvent,
} from '@ledger/domain';
import type { EventStore, StoredEvent, Subscription } from '@ledger/event-store';
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
 */
export class OutboundDispatcher {
  private readonly lock: WatchdogLock;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private subscription: Subscription | undefined;
  private endpoints = new Map<string, EndpointRow>();
  private checkpointPosition = 0n;
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

  /** The position this process's fold has committed (0 on a standby). */
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
      await subscription.close();
    }
  }

  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const next = this.turn.then(work);
    this.turn = next.catch(() => undefined);
    return next;
  }

  /**
   * One batch, one transaction: the deliveries it owes, what notices need, and the checkpoint.
   * An event at or below the checkpoint (redelivered) is skipped: folded twice it would drift
   * the balances and lots.
   */
  private async apply(batch: readonly StoredEvent[]): Promise<void> {
    const events = batch.filter((event) => event.position > this.checkpointPosition);
    if (events.length === 0) return;
    const client = await this.options.pool.connect();
    // A connection that dies while out (PostgreSQL killed) must not end the process: its queries fail.
    const release = listenWhileCheckedOut(client);
    let added: number;
    try {
      await client.query('BEGIN');
      // Fenced: a dispatcher that lost its lock while another moved on must not write behind it.
      const committed = await outboundTables.checkpoint(client, true);
      if (committed !== this.checkpointPosition) {
        throw new Error(`the outbound checkpoint moved to ${committed} under this dispatcher`);
      }
      const endpoints = new Map(this.endpoints);
      const accountIds = new Set<string>();
      for (const event of events) {
        const id = accountIdOf(event.streamName) ?? settingsAccountOf(event);
        if (id !== undefined) accountIds.add(id);
      }
      const accounts = await noticeTables.accounts(client, [...accountIds]);
      const deliveries: NewDelivery[] = [];
      const owe = (message: OutboundMessage) => {
        const body = bodyOf(message);
        const retryUntil = new Date(Date.now() + this.options.config.retry.windowMs);
        for (const endpoint of endpoints.values()) {
          if (endpoint.status !== 'enabled' || !subscribes(endpoint.events, message.type)) continue;
          const webhookId = webhookIdOf(endpoint.endpoint_id, message.key);
          deliveries.push({
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
        await this.applyOne(client, event, endpoints, accounts, owe);
      }
      await outboundTables.insertDeliveries(client, deliveries);
      await noticeTables.saveAccounts(client, new Map([...accounts].filter(([id]) => accountIds.has(id))));
      const last = events[events.length - 1]!.position;
      await outboundTables.saveCheckpoint(client, last);
      await client.query('COMMIT');
      if (deliveries.length > 0) crashPoint('outbound.after-record-deliveries');
      this.endpoints = endpoints;
      this.checkpointPosition = last;
      added = deliveries.length;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      release();
    }
    if (added > 0) this.options.onDeliveries();
  }

  private async applyOne(
    client: pg.PoolClient,
    event: StoredEvent,
    endpoints: Map<string, EndpointRow>,
    accounts: Map<string, NoticeAccount>,
    owe: (message: OutboundMessage) => void,
  ): Promise<void> {
    const endpointId = webhookEndpointIdOf(event.streamName);
    if (endpointId !== undefined) {
      const row = evolveEndpointRow(endpoints.get(endpointId), event as unknown as WebhookEndpointEvent & StoredEvent);
      if (row) {
        endpoints.set(endpointId, row);
        await outboundTables.upsertEndpoint(client, row);
      }
      return;
    }
    const settingsAccount = settingsAccountOf(event);
    if (settingsAccount !== undefined) {
      const { lowBalanceThreshold } = (event as unknown as AccountSettingsEvent).data;
      const account = accounts.get(settingsAccount) ?? { balance: 0, threshold: undefined };
      accounts.set(settingsAccount, { ...account, threshold: lowBalanceThreshold });
      return;
    }
    const accountId = accountIdOf(event.streamName);
    if (accountId !== undefined && isAccountEventType(event.type)) {
      const accountEvent = event as unknown as AccountEvent;
      const account = accounts.get(accountId) ?? { balance: 0, threshold: undefined };
      const after = applyMoney({ ...NO_MONEY, balance: account.balance }, accountEvent).balance;
      accounts.set(accountId, { ...account, balance: after });
      const message = messageOf(event, after);
      if (message) owe(message);
      const threshold =
        account.threshold === undefined ? (this.options.config.lowBalanceThreshold ?? null) : account.threshold;
      const low = lowBalanceNotice(event, accountId, account.balance, after, threshold);
      if (low) owe(low);
      await this.foldLots(client, accountId, event, accountEvent);
      return;
    }
    const message = messageOf(event, undefined);
    if (message) owe(message);
  }

  /** Lots with an expiry wait in outbound_lots for their credits.expiring; what they hold follows the log. */
  private async foldLots(client: pg.PoolClient, accountId: string, event: StoredEvent, accountEvent: AccountEvent) {
    const awaiting = (grantId: string) => this.awaitingNotice.has(`${accountId}\n${grantId}`);
    switch (accountEvent.type) {
      case 'CreditsGranted': {
        const { grantId, expiresAt, amount, category } = accountEvent.data;
        if (grantId === undefined || expiresAt === undefined) return;
        await noticeTables.addLot(client, {
          accountId,
          grantId,
          amount,
          expiresAt,
          category: category ?? null,
          position: event.position,
        });
        this.awaitingNotice.add(`${accountId}\n${grantId}`);
        return;
      }
      case 'Debited':
      case 'Refunded': {
        const sign = accountEvent.type === 'Debited' ? -1 : 1;
        const shares = (accountEvent.data.lots ?? [])
          .filter((share) => awaiting(share.grantId))
          .map((share) => ({ grantId: share.grantId, amount: sign * share.amount }));
        await noticeTables.moveLots(client, accountId, shares);
        return;
      }
      case 'CreditsExpired':
      case 'GrantVoided':
        if (!awaiting(accountEvent.data.grantId)) return;
        await noticeTables.dropLot(client, accountId, accountEvent.data.grantId);
        this.awaitingNotice.delete(`${accountId}\n${accountEvent.data.grantId}`);
        return;
    }
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
      // Fenced as a batch is; the notices are judged at this position (their data.position).
      const at = await outboundTables.checkpoint(client, true);
      if (at !== this.checkpointPosition) {
        throw new Error(`the outbound checkpoint moved to ${at} under this dispatcher`);
      }
      const lots = await noticeTables.takeDueLots(client, now, noticeUntil, DUE_LOTS_LIMIT);
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
      await client.query('COMMIT');
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
