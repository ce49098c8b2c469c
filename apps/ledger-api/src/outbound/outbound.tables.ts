import type pg from 'pg';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** An endpoint as ledger_api.outbound_endpoints holds it (migration 0005). */
export interface EndpointRow {
  endpoint_id: string;
  url: string;
  events: string[];
  description: string | null;
  status: 'enabled' | 'disabled';
  secret_id: string;
  previous_secret_id: string | null;
  previous_expires_at: Date | null;
  created_at: Date;
  position: string;
  updated_position: string;
}

export interface DeliveryRow {
  delivery_id: string;
  endpoint_id: string;
  webhook_id: string;
  type: string;
  event_position: string;
  body: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  next_attempt_at: Date | null;
  retry_until: Date;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  started_at: Date;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
}

/** A delivery to write: the dispatcher's fold makes them, in its checkpoint's transaction. */
export interface NewDelivery {
  endpointId: string;
  webhookId: string;
  type: string;
  position: bigint;
  body: string;
  retryUntil: Date;
}

/** A claimed delivery with what sending it needs. */
export interface ClaimedDelivery extends DeliveryRow {
  url: string;
  secret_id: string;
  previous_secret_id: string | null;
  previous_expires_at: Date | null;
}

export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;

/**
 * The outbound tables' one home (migration 0005): every statement on them is here, so
 * the dispatcher, the senders, the API and the metrics read the same columns.
 */
export const outboundTables = {
  async checkpoint(db: Queryable, forUpdate = false): Promise<bigint> {
    await db.query(
      'INSERT INTO ledger_api.outbound_checkpoint (id, position) VALUES (1, 0) ON CONFLICT (id) DO NOTHING',
    );
    const { rows } = await db.query<{ position: string }>(
      `SELECT position FROM ledger_api.outbound_checkpoint WHERE id = 1${forUpdate ? ' FOR UPDATE' : ''}`,
    );
    return BigInt(rows[0]!.position);
  },

  /** The committed checkpoint, its row locked to the caller's transaction (the fence of a batch). */
  async lockCheckpoint(db: Queryable): Promise<bigint> {
    const { rows } = await db.query<{ position: string }>(
      'SELECT position FROM ledger_api.outbound_checkpoint WHERE id = 1 FOR UPDATE',
    );
    return BigInt(rows[0]!.position);
  },

  /** Moves the checkpoint from `from` to `to` in one statement; false when it was not at `from` (fenced). */
  async advanceCheckpoint(db: Queryable, from: bigint, to: bigint): Promise<boolean> {
    const { rowCount } = await db.query(
      'UPDATE ledger_api.outbound_checkpoint SET position = $2, updated_at = now() WHERE id = 1 AND position = $1',
      [String(from), String(to)],
    );
    return rowCount === 1;
  },

  async saveCheckpoint(db: Queryable, position: bigint): Promise<void> {
    await db.query('UPDATE ledger_api.outbound_checkpoint SET position = $1, updated_at = now() WHERE id = 1', [
      String(position),
    ]);
  },

  async saveSecret(db: Queryable, secretId: string, endpointId: string, secret: string): Promise<void> {
    await db.query('INSERT INTO ledger_api.outbound_secrets (secret_id, endpoint_id, secret) VALUES ($1, $2, $3)', [
      secretId,
      endpointId,
      secret,
    ]);
  },

  /** A secret no event names (its command was refused or was a repeat): never kept. */
  async forgetSecret(db: Queryable, secretId: string): Promise<void> {
    await db.query('DELETE FROM ledger_api.outbound_secrets WHERE secret_id = $1', [secretId]);
  },

  async secrets(db: Queryable, secretIds: readonly string[]): Promise<Map<string, string>> {
    const { rows } = await db.query<{ secret_id: string; secret: string }>(
      'SELECT secret_id, secret FROM ledger_api.outbound_secrets WHERE secret_id = ANY($1)',
      [secretIds],
    );
    return new Map(rows.map((r) => [r.secret_id, r.secret]));
  },

  async endpoints(db: Queryable): Promise<EndpointRow[]> {
    const { rows } = await db.query<EndpointRow>(
      'SELECT * FROM ledger_api.outbound_endpoints ORDER BY position, endpoint_id',
    );
    return rows;
  },

  async endpoint(db: Queryable, endpointId: string): Promise<EndpointRow | undefined> {
    const { rows } = await db.query<EndpointRow>('SELECT * FROM ledger_api.outbound_endpoints WHERE endpoint_id = $1', [
      endpointId,
    ]);
    return rows[0];
  },

  async upsertEndpoint(db: Queryable, row: EndpointRow): Promise<void> {
    await db.query(
      `INSERT INTO ledger_api.outbound_endpoints (endpoint_id, url, events, description, status, secret_id,
         previous_secret_id, previous_expires_at, created_at, position, updated_position)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (endpoint_id) DO UPDATE SET status = excluded.status, secret_id = excluded.secret_id,
         previous_secret_id = excluded.previous_secret_id, previous_expires_at = excluded.previous_expires_at,
         updated_position = excluded.updated_position`,
      [
        row.endpoint_id,
        row.url,
        row.events,
        row.description,
        row.status,
        row.secret_id,
        row.previous_secret_id,
        row.previous_expires_at,
        row.created_at,
        row.position,
        row.updated_position,
      ],
    );
  },

  async insertDeliveries(db: Queryable, deliveries: readonly NewDelivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    // A replayed batch (a crash after sending, before nothing) names the same webhook ids: one row each.
    await db.query(
      `INSERT INTO ledger_api.outbound_deliveries
         (endpoint_id, webhook_id, type, event_position, body, status, next_attempt_at, retry_until)
       SELECT e, w, t, p, b, 'pending', now(), r
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::timestamptz[]) AS x(e, w, t, p, b, r)
       ON CONFLICT (webhook_id) DO NOTHING`,
      [
        deliveries.map((d) => d.endpointId),
        deliveries.map((d) => d.webhookId),
        deliveries.map((d) => d.type),
        deliveries.map((d) => String(d.position)),
        deliveries.map((d) => d.body),
        deliveries.map((d) => d.retryUntil),
      ],
    );
  },

  /**
   * Takes up to `limit` due deliveries of enabled endpoints, skipping those another sender
   * holds, and leases them for `leaseMs`: a sender that dies mid-send leaves them due again
   * then. `attempts` counts the attempt now starting.
   */
  async claimDue(db: Queryable, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const { rows } = await db.query<ClaimedDelivery>(
      `UPDATE ledger_api.outbound_deliveries d
       SET attempts = d.attempts + 1, next_attempt_at = now() + $2 * interval '1 millisecond', updated_at = now()
       FROM ledger_api.outbound_endpoints e
       WHERE e.endpoint_id = d.endpoint_id AND d.delivery_id IN (
         SELECT d2.delivery_id FROM ledger_api.outbound_deliveries d2
         JOIN ledger_api.outbound_endpoints e2 ON e2.endpoint_id = d2.endpoint_id AND e2.status = 'enabled'
         WHERE d2.status = 'pending' AND d2.next_attempt_at <= now()
         ORDER BY d2.next_attempt_at, d2.delivery_id LIMIT $1
         FOR UPDATE OF d2 SKIP LOCKED)
       RETURNING d.*, e.url, e.secret_id, e.previous_secret_id, e.previous_expires_at`,
      [limit, leaseMs],
    );
    return rows;
  },

  /** The attempt's outcome, unless another sender took the delivery over since (its lease ran out). */
  async recordAttempt(
    db: Queryable,
    delivery: Pick<DeliveryRow, 'delivery_id' | 'attempts'>,
    attempt: Omit<AttemptRow, 'delivery_id' | 'attempt'>,
    next: { status: DeliveryRow['status']; nextAttemptAt: Date | null },
  ): Promise<boolean> {
    const { rowCount } = await db.query(
      `WITH updated AS (
         UPDATE ledger_api.outbound_deliveries SET status = $3, next_attempt_at = $4, last_status_code = $5,
           last_error = $6, updated_at = now()
         WHERE delivery_id = $1 AND attempts = $2 AND status = 'pending' RETURNING delivery_id)
       INSERT INTO ledger_api.outbound_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error)
       SELECT delivery_id, $2, $7, $8, $5, $6 FROM updated`,
      [
        delivery.delivery_id,
        delivery.attempts,
        next.status,
        next.nextAttemptAt,
        attempt.status_code,
        attempt.error,
        attempt.started_at,
        attempt.duration_ms,
      ],
    );
    return rowCount === 1;
  },

  async deliveries(
    db: Queryable,
    endpointId: string,
    options: { status?: string; afterId?: string; limit: number },
  ): Promise<DeliveryRow[]> {
    const { rows } = await db.query<DeliveryRow>(
      `SELECT * FROM ledger_api.outbound_deliveries
       WHERE endpoint_id = $1 AND ($2::text IS NULL OR status = $2) AND delivery_id > $3
       ORDER BY delivery_id LIMIT $4`,
      [endpointId, options.status ?? null, options.afterId ?? '0', options.limit],
    );
    return rows;
  },

  async attempts(db: Queryable, deliveryIds: readonly string[]): Promise<AttemptRow[]> {
    const { rows } = await db.query<AttemptRow>(
      'SELECT * FROM ledger_api.outbound_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt',
      [deliveryIds],
    );
    return rows;
  },

  /** A manual retry: one more attempt now, then `failed` again if it fails (the schedule is not restarted). */
  async retryNow(db: Queryable, endpointId: string, deliveryId: string): Promise<DeliveryRow | undefined> {
    const { rows } = await db.query<DeliveryRow>(
      `UPDATE ledger_api.outbound_deliveries SET status = 'pending', next_attempt_at = now(),
         retry_until = greatest(retry_until, now()), updated_at = now()
       WHERE endpoint_id = $1 AND delivery_id = $2 RETURNING *`,
      [endpointId, deliveryId],
    );
    return rows[0];
  },

  async pendingSummary(db: Queryable): Promise<{ pending: number; oldestAgeSeconds: number }> {
    const { rows } = await db.query<{ pending: string; oldest: number | null }>(
      `SELECT count(*) AS pending, extract(epoch FROM now() - min(created_at))::float8 AS oldest
       FROM ledger_api.outbound_deliveries WHERE status = 'pending'`,
    );
    return { pending: Number(rows[0]!.pending), oldestAgeSeconds: rows[0]!.oldest ?? 0 };
  },
};
