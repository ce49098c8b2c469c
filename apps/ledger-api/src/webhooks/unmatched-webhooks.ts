import type pg from 'pg';
import { pageOf, type Page, type PageRequest } from '../queries/page.js';

const TABLE = 'ledger_api.unmatched_webhooks';
const COLUMNS = `id, provider, task_id, delivery_key, body, request_hash, deliveries, received_at, last_received_at,
  status, project_id, applied_status, position, applied_at, expired_at`;

/** kept: waiting for its task's project; applied: through the command path; expired: kept too long, never applied. */
export type KeptStatus = 'kept' | 'applied' | 'expired';
export const KEPT_STATUSES: readonly KeptStatus[] = ['kept', 'applied', 'expired'];

export interface UnmatchedDelivery {
  provider: string;
  taskId: string;
  /** What identifies the delivery: its idempotency key. */
  deliveryKey: string;
  /** The request hash its idempotency key is kept with: its application is the same request. */
  requestHash: string;
  rawBody: Buffer;
  receivedAt: Date;
}

/** A kept delivery as the reactor applies it. */
export interface KeptDelivery {
  id: string;
  provider: string;
  taskId: string;
  deliveryKey: string;
  /** Null for rows kept before migration 0006. */
  requestHash: string | null;
  body: string;
}

/** How a kept delivery's application was answered. */
export interface Application {
  projectId: string;
  /** The answer's HTTP status: 200, or the refusal's (409 when the project had ended otherwise). */
  answerStatus: number;
  /** The position of the application's last event (read-your-writes); null when refused. */
  position: bigint | null;
}

interface UnmatchedRow {
  id: string;
  provider: string;
  task_id: string;
  delivery_key: string;
  body: string;
  request_hash: string | null;
  deliveries: number;
  received_at: Date;
  last_received_at: Date;
  status: KeptStatus;
  project_id: string | null;
  applied_status: number | null;
  position: string | null;
  applied_at: Date | null;
  expired_at: Date | null;
}

export interface UnmatchedView {
  id: number;
  provider: string;
  taskId: string;
  /** The delivery's body as received (parsed for reading). */
  body: unknown;
  /** How many times the provider delivered it while it was kept. */
  deliveries: number;
  receivedAt: string;
  lastReceivedAt: string;
  status: KeptStatus;
  /** When applied: the project, the answer's status and the position to read the project at. */
  projectId: string | null;
  appliedStatus: number | null;
  position: number | null;
  appliedAt: string | null;
  expiredAt: string | null;
}

/**
 * Verified deliveries for tasks no project had, in PostgreSQL (present with either event
 * store): the webhook that arrives before its project is kept, not lost, applied when its
 * project starts (early-deliveries.reactor.ts), and expires if none does in time.
 */
export class UnmatchedWebhooks {
  constructor(private readonly pool: pg.Pool) {}

  /** One row per delivery: a repeat counts, it does not add a row. True when this delivery is new. */
  async record(delivery: UnmatchedDelivery): Promise<boolean> {
    const { rows } = await this.pool.query<{ inserted: boolean }>(
      `INSERT INTO ${TABLE} (provider, task_id, delivery_key, request_hash, body, received_at, last_received_at)
       VALUES ($1, $2, $3, $4, $5, $6, $6)
       ON CONFLICT (provider, delivery_key) DO UPDATE
         SET deliveries = ${TABLE}.deliveries + 1, last_received_at = excluded.last_received_at
       RETURNING (xmax = 0) AS inserted`,
      [
        delivery.provider,
        delivery.taskId,
        delivery.deliveryKey,
        delivery.requestHash,
        delivery.rawBody.toString('utf8'),
        delivery.receivedAt,
      ],
    );
    return rows[0]?.inserted === true;
  }

  /**
   * The delivery was applied (by the reactor, or re-delivered once its project existed).
   * True when this call applied it: a delivery is counted applied once, whoever marks it.
   */
  async markApplied(provider: string, deliveryKey: string, application: Application, at: Date): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE ${TABLE} SET status = 'applied', project_id = $3, applied_status = $4, position = $5, applied_at = $6
       WHERE provider = $1 AND delivery_key = $2 AND status <> 'applied'`,
      [provider, deliveryKey, application.projectId, application.answerStatus, application.position, at],
    );
    return rowCount === 1;
  }

  /** Kept deliveries of these tasks received at or after `notBefore`, oldest first. */
  async keptForTasks(taskIds: readonly string[], notBefore: Date): Promise<KeptDelivery[]> {
    if (taskIds.length === 0) return [];
    const { rows } = await this.pool.query<UnmatchedRow>(
      `SELECT ${COLUMNS} FROM ${TABLE}
       WHERE status = 'kept' AND task_id = ANY($1::text[]) AND received_at >= $2 ORDER BY id`,
      [taskIds, notBefore],
    );
    return rows.map(keptOf);
  }

  /** Up to `limit` kept deliveries after id `afterId`, received at or after `notBefore`: pages of all that wait. */
  async keptAfter(afterId: string, notBefore: Date, limit: number): Promise<KeptDelivery[]> {
    const { rows } = await this.pool.query<UnmatchedRow>(
      `SELECT ${COLUMNS} FROM ${TABLE}
       WHERE status = 'kept' AND id > $1 AND received_at >= $2 ORDER BY id LIMIT $3`,
      [afterId, notBefore, limit],
    );
    return rows.map(keptOf);
  }

  /** Marks expired the deliveries kept since before `receivedBefore`; how many. */
  async expire(receivedBefore: Date, at: Date): Promise<number> {
    const { rowCount } = await this.pool.query(
      `UPDATE ${TABLE} SET status = 'expired', expired_at = $2 WHERE status = 'kept' AND received_at < $1`,
      [receivedBefore, at],
    );
    return rowCount ?? 0;
  }

  /** How many deliveries each status holds now (all replicas'). */
  async counts(): Promise<Record<KeptStatus, number>> {
    const { rows } = await this.pool.query<{ status: KeptStatus; count: string }>(
      `SELECT status, count(*) AS count FROM ${TABLE} GROUP BY status`,
    );
    const counts: Record<KeptStatus, number> = { kept: 0, applied: 0, expired: 0 };
    for (const row of rows) counts[row.status] = Number(row.count);
    return counts;
  }

  /** Newest first, keyed by id: of one status, or (none given) those not applied, kept and expired. */
  async page(request: PageRequest, status?: KeptStatus): Promise<Page<UnmatchedView>> {
    const statuses = status === undefined ? ['kept', 'expired'] : [status];
    const after = request.after === undefined ? [] : [request.after.toString()];
    const { rows } = await this.pool.query<UnmatchedRow>(
      `SELECT ${COLUMNS} FROM ${TABLE}
       WHERE status = ANY($2::text[]) ${after.length > 0 ? 'AND id < $3' : ''}
       ORDER BY id DESC LIMIT $1`,
      [request.limit + 1, statuses, ...after],
    );
    return pageOf(rows, request, (row) => BigInt(row.id), viewOf);
  }
}

function keptOf(row: UnmatchedRow): KeptDelivery {
  return {
    id: row.id,
    provider: row.provider,
    taskId: row.task_id,
    deliveryKey: row.delivery_key,
    requestHash: row.request_hash,
    body: row.body,
  };
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
    status: row.status,
    projectId: row.project_id,
    appliedStatus: row.applied_status,
    position: row.position === null ? null : Number(row.position),
    appliedAt: row.applied_at?.toISOString() ?? null,
    expiredAt: row.expired_at?.toISOString() ?? null,
  };
}
