import { LIVE_SCHEMA, valuesList, type RowChange } from '../projection.js';
import type { Queryable } from '../rows.js';

/**
 * `projections.checkpoints`, one row per projection: where it has got to (its tables
 * equal a fold of the events up to `position`). The runner moves it in each batch's
 * transaction; read-your-writes, reconciliation and the rebuild read it. migrations/
 * define it and add a row for each projection.
 */
export const CHECKPOINTS = 'checkpoints';
const TABLE = `${LIVE_SCHEMA}.${CHECKPOINTS}`;

export const checkpointsTable = {
  name: CHECKPOINTS,

  /** The stored checkpoint of each of `projections` that has a row. */
  async positions(db: Queryable, projections: readonly string[]): Promise<Map<string, bigint>> {
    const { rows } = await db.query<{ projection: string; position: string }>(
      `SELECT projection, position FROM ${TABLE} WHERE projection = ANY($1)`,
      [projections],
    );
    return new Map(rows.map((row) => [row.projection, BigInt(row.position)]));
  },

  /** The lowest checkpoint of `projections` (0 if none has a row): all of them have applied up to here. */
  async lowest(db: Queryable, projections: readonly string[]): Promise<bigint> {
    const { rows } = await db.query<{ position: string }>(
      `SELECT coalesce(min(position), 0) AS position FROM ${TABLE} WHERE projection = ANY($1)`,
      [projections],
    );
    return BigInt(rows[0]!.position);
  },

  /**
   * Moves every checkpoint of `moves` to `position` in one statement, fenced: each only
   * from the position its runner read (`from`), or none of them.
   */
  moveFenced(moves: readonly (readonly [projection: string, from: bigint])[], position: bigint): RowChange {
    return {
      text: `UPDATE ${TABLE} AS c SET position = $1, updated_at = now()
             FROM (VALUES ${valuesList(moves.length, 2, 2)}) AS v(projection, position)
             WHERE c.projection = v.projection AND c.position = v.position::bigint`,
      values: [position, ...moves.flat()],
      expectRows: moves.length,
      fence: true,
    };
  },
};
