import type pg from 'pg';
import { pageOf, type Page, type PageRequest } from '../queries/page.js';

const TABLE = 'ledger_api.unmatched_webhooks';

export interface UnmatchedDelivery {
  provider: string;
  taskId: string;
  /** What identifies the delivery: its idempotency key. */
  deliveryKey: string;
  rawBody: Buffer;
  receivedAt: Date;
}

interface UnmatchedRow {
  id: string;
  provider: string;
  task_id: string;
  body: string;
  deliveries: number;
  received_at: Date;
  last_received_at: Date;
}

export interface UnmatchedView {
  id: number;
  provider: string;
  taskId: string;
  /** The delivery's body as received (parsed for reading). */
  body: unknown;
  /** How many times the provider delivered it. */
  deliveries: number;
  receivedAt: string;
  lastReceivedAt: string;
}

/**
 * Verified deliveries for tasks no project has, in PostgreSQL (present with
 * either event store): the webhook that arrives before its project, or for a
 * project that never was, is kept for an operator instead of lost.
 */
export class UnmatchedWebhooks {
  constructor(private readonly pool: pg.Pool) {}

  /** One row per delivery: a repeat counts, it does not add a row. */
  async record(delivery: UnmatchedDelivery): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${TABLE} (provider, task_id, delivery_key, body, received_at, last_received_at)
       VALUES ($1, $2, $3, $4, $5, $5)
       ON CONFLICT (provider, delivery_key) DO UPDATE
         SET deliveries = ${TABLE}.deliveries + 1, last_received_at = excluded.last_received_at`,
      [
        delivery.provider,
        delivery.taskId,
        delivery.deliveryKey,
        delivery.rawBody.toString('utf8'),
        delivery.receivedAt,
      ],
    );
  }

  /**
   * This delivery was applied (re-delivered once its project existed): it leaves the
   * list. Other kept deliveries of the task stay until they are applied themselves.
   */
  async markMatched(provider: string, deliveryKey: string, at: Date): Promise<void> {
    await this.pool.query(
      `UPDATE ${TABLE} SET matched = true, matched_at = $3 WHERE provider = $1 AND delivery_key = $2 AND NOT matched`,
      [provider, deliveryKey, at],
    );
  }

  /** Unmatched deliveries, newest first, keyed by id. */
  async page(request: PageRequest): Promise<Page<UnmatchedView>> {
    const after = request.after === undefined ? [] : [request.after.toString()];
    const { rows } = await this.pool.query<UnmatchedRow>(
      `SELECT id, provider, task_id, body, deliveries, received_at, last_received_at FROM ${TABLE}
       WHERE NOT matched ${after.length > 0 ? 'AND id < $2' : ''}
       ORDER BY id DESC LIMIT $1`,
      [request.limit + 1, ...after],
    );
    return pageOf(rows, request, (row) => BigInt(row.id), viewOf);
  }
}

function viewOf(row: UnmatchedRow): UnmatchedView {
  return {
    id: Number(row.id),
    provider: row.provider,
    taskId: row.task_id,
    body: JSON.parse(row.body) as unknown,
    deliveries: row.deliveries,
    receivedAt: row.received_at.toISOString(),
    lastReceivedAt: row.last_received_at.toISOString(),
  };
}
