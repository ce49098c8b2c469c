import type pg from 'pg';
import type { Violation } from './invariant-checker.js';
import type { Mismatch } from './read-model-fold.js';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

export type StreamKind = 'account' | 'project';
export type FindingOrigin = 'log' | 'state' | 'compare';

/** The checker's progress (ledger_api.reconciliation_checkpoint). */
export interface CheckerProgress {
  /** Every event up to here is folded. */
  position: bigint;
  /** Every stream folded up to here was compared with its read-model rows too. */
  comparedPosition: bigint;
  accounts: number;
  projects: number;
}

/** One stream's fold as the checker keeps it. */
export interface StreamRecord<State = unknown> {
  kind: StreamKind;
  id: string;
  state: State;
  /** The last event that changed the fold. */
  position: bigint;
  comparePending: boolean;
}

export type Finding =
  { kind: 'mismatch'; body: Mismatch; position: bigint } | { kind: 'violation'; body: Violation; position: bigint };

export interface StoredFinding {
  streamKind: StreamKind;
  streamId: string;
  origin: FindingOrigin;
  finding: Finding;
}

const CHECKPOINT = 'ledger_api.reconciliation_checkpoint';
const STREAMS = 'ledger_api.reconciliation_streams';
const FINDINGS = 'ledger_api.reconciliation_findings';

interface StreamColumns {
  kind: StreamKind;
  id: string;
  state: unknown;
  position: string;
  compare_pending: boolean;
}

const streamOf = (row: StreamColumns): StreamRecord => ({
  kind: row.kind,
  id: row.id,
  state: row.state,
  position: BigInt(row.position),
  comparePending: row.compare_pending,
});

/** The continuous reconciliation's tables (migration 0009): their one home. */
export const reconciliationTables = {
  /** The checker's progress; `forUpdate` fences a checker that lost its lock while another moved on. */
  async progress(db: Queryable, forUpdate = false): Promise<CheckerProgress> {
    if (forUpdate) {
      await db.query(
        `INSERT INTO ${CHECKPOINT} (id, position, compared_position) VALUES (1, 0, 0) ON CONFLICT (id) DO NOTHING`,
      );
    }
    const { rows } = await db.query<{
      position: string;
      compared_position: string;
      accounts: string;
      projects: string;
    }>(
      `SELECT position, compared_position, accounts, projects FROM ${CHECKPOINT} WHERE id = 1${forUpdate ? ' FOR UPDATE' : ''}`,
    );
    const row = rows[0];
    return {
      position: BigInt(row?.position ?? 0),
      comparedPosition: BigInt(row?.compared_position ?? 0),
      accounts: Number(row?.accounts ?? 0),
      projects: Number(row?.projects ?? 0),
    };
  },

  async saveProgress(db: Queryable, position: bigint, newAccounts: number, newProjects: number): Promise<void> {
    // Compared up to just before the oldest stream still waiting for its read models.
    await db.query(
      `UPDATE ${CHECKPOINT} SET position = $1, accounts = accounts + $2, projects = projects + $3,
         compared_position = COALESCE((SELECT min(position) - 1 FROM ${STREAMS} WHERE compare_pending), $1),
         updated_at = now()
       WHERE id = 1`,
      [position.toString(), newAccounts, newProjects],
    );
  },

  async streams(db: Queryable, keys: readonly (readonly [StreamKind, string])[]): Promise<StreamRecord[]> {
    if (keys.length === 0) return [];
    const { rows } = await db.query<StreamColumns>(
      `SELECT s.kind, s.id, s.state, s.position, s.compare_pending
       FROM unnest($1::text[], $2::text[]) AS k(kind, id) JOIN ${STREAMS} s USING (kind, id)`,
      [keys.map(([kind]) => kind), keys.map(([, id]) => id)],
    );
    return rows.map(streamOf);
  },

  /** Streams waiting to be compared whose fold is at or before `upTo` (their read models reached it), oldest first. */
  async pending(db: Queryable, upTo: bigint, limit: number): Promise<StreamRecord[]> {
    const { rows } = await db.query<StreamColumns>(
      `SELECT kind, id, state, position, compare_pending FROM ${STREAMS}
       WHERE compare_pending AND position <= $1 ORDER BY position LIMIT $2`,
      [upTo.toString(), limit],
    );
    return rows.map(streamOf);
  },

  /** Every stream, a keyset page at a time after (`kind`, `id`): what a sweep compares. */
  async streamsAfter(db: Queryable, after: readonly [string, string], limit: number): Promise<StreamRecord[]> {
    const { rows } = await db.query<StreamColumns>(
      `SELECT kind, id, state, position, compare_pending FROM ${STREAMS}
       WHERE (kind, id) > ($1, $2) ORDER BY kind, id LIMIT $3`,
      [after[0], after[1], limit],
    );
    return rows.map(streamOf);
  },

  /** Writes the streams; returns how many of each kind are new. */
  async saveStreams(db: Queryable, streams: readonly StreamRecord[]): Promise<Record<StreamKind, number>> {
    const added = { account: 0, project: 0 };
    if (streams.length === 0) return added;
    const { rows } = await db.query<{ kind: StreamKind; inserted: boolean }>(
      `INSERT INTO ${STREAMS} (kind, id, state, position, compare_pending)
       SELECT kind, id, state, position, compare_pending
       FROM jsonb_to_recordset($1::jsonb) AS x(kind text, id text, state jsonb, position bigint, compare_pending boolean)
       ON CONFLICT (kind, id) DO UPDATE SET state = EXCLUDED.state, position = EXCLUDED.position,
         compare_pending = EXCLUDED.compare_pending
       RETURNING kind, (xmax = 0) AS inserted`,
      [
        JSON.stringify(
          streams.map((s) => ({
            kind: s.kind,
            id: s.id,
            state: s.state,
            position: s.position.toString(),
            compare_pending: s.comparePending,
          })),
        ),
      ],
    );
    for (const row of rows) if (row.inserted) added[row.kind]++;
    return added;
  },

  async setPending(db: Queryable, keys: readonly (readonly [StreamKind, string])[], pending: boolean): Promise<void> {
    if (keys.length === 0) return;
    await db.query(
      `UPDATE ${STREAMS} s SET compare_pending = $3 FROM unnest($1::text[], $2::text[]) AS k(kind, id)
       WHERE s.kind = k.kind AND s.id = k.id`,
      [keys.map(([kind]) => kind), keys.map(([, id]) => id), pending],
    );
  },

  /** Replaces the findings of `origin` of each stream in `streams` with `findings` (those of other streams are kept). */
  async replaceFindings(
    db: Queryable,
    origin: FindingOrigin,
    streams: readonly (readonly [StreamKind, string])[],
    findings: readonly StoredFinding[],
  ): Promise<void> {
    if (streams.length > 0) {
      await db.query(
        `DELETE FROM ${FINDINGS} f USING unnest($1::text[], $2::text[]) AS k(kind, id)
         WHERE f.stream_kind = k.kind AND f.stream_id = k.id AND f.origin = $3`,
        [streams.map(([kind]) => kind), streams.map(([, id]) => id), origin],
      );
    }
    await this.addFindings(db, findings);
  },

  async addFindings(db: Queryable, findings: readonly StoredFinding[]): Promise<void> {
    if (findings.length === 0) return;
    await db.query(
      `INSERT INTO ${FINDINGS} (stream_kind, stream_id, origin, kind, body, position)
       SELECT stream_kind, stream_id, origin, kind, body, position
       FROM jsonb_to_recordset($1::jsonb)
         AS x(stream_kind text, stream_id text, origin text, kind text, body jsonb, position bigint)`,
      [
        JSON.stringify(
          findings.map((f) => ({
            stream_kind: f.streamKind,
            stream_id: f.streamId,
            origin: f.origin,
            kind: f.finding.kind,
            body: f.finding.body,
            position: f.finding.position.toString(),
          })),
        ),
      ],
    );
  },

  /** How many open findings of each kind. */
  async counts(db: Queryable): Promise<{ mismatches: number; violations: number }> {
    const { rows } = await db.query<{ kind: string; count: string }>(
      `SELECT kind, count(*) AS count FROM ${FINDINGS} GROUP BY kind`,
    );
    const count = (kind: string) => Number(rows.find((r) => r.kind === kind)?.count ?? 0);
    return { mismatches: count('mismatch'), violations: count('violation') };
  },

  /** The first `limit` open findings of a kind, in the order found, with their stream and origin. */
  async findings(db: Queryable, kind: 'mismatch' | 'violation', limit: number): Promise<StoredFinding[]> {
    const { rows } = await db.query<{
      stream_kind: StreamKind;
      stream_id: string;
      origin: FindingOrigin;
      body: never;
      position: string;
    }>(
      `SELECT stream_kind, stream_id, origin, body, position FROM ${FINDINGS}
       WHERE kind = $1 ORDER BY finding_id LIMIT $2`,
      [kind, limit],
    );
    return rows.map((row) => ({
      streamKind: row.stream_kind,
      streamId: row.stream_id,
      origin: row.origin,
      finding: { kind, body: row.body, position: BigInt(row.position) },
    }));
  },
};
