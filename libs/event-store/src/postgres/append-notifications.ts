import pg from 'pg';

export const APPEND_CHANNEL = 'event_store_appended';
// Under load, one NOTIFY per this interval at most: each is a query and a short
// database-wide lock, and a remote subscriber needs one wake-up, not one per event.
const NOTIFY_INTERVAL_MS_MIN = 2;
const RECONNECT_DELAY_MS_MAX = 5_000;

/**
 * Wakes subscriptions when events were appended. In this process, listeners
 * are woken at once; other processes (a projector) through NOTIFY, sent after
 * the append committed and coalesced: while one NOTIFY is in flight, any
 * number of appends cause just one more. One LISTEN connection per store is
 * shared by its subscriptions; if it drops, listeners fall back to slow
 * polling (see `connected`) until it is back. A NOTIFY lost to a crash only
 * delays a subscriber until its next poll.
 */
export class AppendNotifications {
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private readonly listeners = new Set<() => void>();
  private closed = false;
  private reconnectDelayMs = 100;
  private reconnectTimer: NodeJS.Timeout | undefined;

  private notifyInFlight = false;
  private notifyAgain = false;
  /** The server processes of this store's pool: a NOTIFY from one of them is our own, already woken for. */
  private readonly ownBackends = new Set<number>();

  constructor(
    private readonly connectionString: string,
    private readonly pool: pg.Pool,
  ) {
    pool.on('connect', (client) => {
      const pid = backendOf(client);
      if (pid !== undefined) this.ownBackends.add(pid);
    });
    pool.on('remove', (client) => {
      const pid = backendOf(client);
      if (pid !== undefined) this.ownBackends.delete(pid);
    });
  }

  /** Called after an append committed. */
  publish(): void {
    this.wakeAll();
    this.sendNotify();
  }

  /** The NOTIFY for other processes, coalesced (this process's listeners are woken already). */
  private sendNotify(): void {
    if (this.notifyInFlight) {
      this.notifyAgain = true;
      return;
    }
    this.notifyInFlight = true;
    void this.pool
      .query(`SELECT pg_notify('${APPEND_CHANNEL}', '')`)
      .catch(() => undefined)
      .finally(() => {
        if (!this.notifyAgain || this.closed) {
          this.notifyInFlight = false;
          return;
        }
        setTimeout(() => {
          this.notifyInFlight = false;
          this.notifyAgain = false;
          if (!this.closed) this.sendNotify();
        }, NOTIFY_INTERVAL_MS_MIN).unref();
      });
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Registers a listener and makes sure the connection is up (or being retried). */
  async listen(listener: () => void): Promise<() => void> {
    this.listeners.add(listener);
    await this.ensureConnected();
    return () => this.listeners.delete(listener);
  }

  private ensureConnected(): Promise<void> {
    if (this.closed || this.client) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString });
    client.on('error', () => this.dropped(client));
    client.on('end', () => this.dropped(client));
    // Our own NOTIFY comes back here too: `publish` woke this process's listeners before sending
    // it, and waking them again would only cost each a poll that finds nothing new.
    client.on('notification', (message) => {
      if (!this.ownBackends.has(message.processId)) this.wakeAll();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${APPEND_CHANNEL}`);
    } catch {
      await client.end().catch(() => undefined);
      this.scheduleReconnect();
      return;
    }
    if (this.closed) {
      await client.end();
      return;
    }
    this.client = client;
    this.reconnectDelayMs = 100;
    // Whatever was appended while we were not listening must be looked at now.
    this.wakeAll();
  }

  private dropped(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    void client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer || this.listeners.size === 0) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.ensureConnected();
    }, this.reconnectDelayMs);
    this.reconnectTimer.unref();
    this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, RECONNECT_DELAY_MS_MAX);
  }

  private wakeAll(): void {
    for (const listener of this.listeners) listener();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    this.listeners.clear();
    await client?.end().catch(() => undefined);
  }
}

/** The server process id of a pooled connection (node-postgres keeps it from the backend key data). */
function backendOf(client: pg.PoolClient): number | undefined {
  const pid = (client as pg.PoolClient & { processID?: number | null }).processID;
  return typeof pid === 'number' ? pid : undefined;
}
