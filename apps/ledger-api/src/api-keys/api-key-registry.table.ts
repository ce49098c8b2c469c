import type pg from 'pg';
import type { KeyEvent } from '../auth/api-keys.js';

/** A key event as the snapshot's JSON holds it. */
interface StoredKeyEvent {
  streamName: string;
  type: string;
  data: Record<string, unknown>;
  position: string;
  at: string;
}

/**
 * ledger_api.api_key_registry (migration 0004): one row, the key events of the log up to
 * `position`. Where a start of the key feed begins, so it reads the log from there.
 */
export const apiKeyRegistryTable = {
  async load(pool: pg.Pool): Promise<{ position: bigint; events: KeyEvent[] } | undefined> {
    const { rows } = await pool.query<{ position: string; events: StoredKeyEvent[] }>(
      'SELECT position, events FROM ledger_api.api_key_registry WHERE id = 1',
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      position: BigInt(row.position),
      events: row.events.map((e) => ({ ...e, position: BigInt(e.position), at: new Date(e.at) })),
    };
  },

  /** Saves the registry as of `position`, unless a snapshot at or past it is there already. */
  async save(pool: pg.Pool, position: bigint, events: readonly KeyEvent[]): Promise<void> {
    const stored: StoredKeyEvent[] = events.map((e) => ({
      streamName: e.streamName,
      type: e.type,
      data: e.data,
      position: String(e.position),
      at: e.at.toISOString(),
    }));
    await pool.query(
      `INSERT INTO ledger_api.api_key_registry (id, position, events) VALUES (1, $1, $2)
       ON CONFLICT (id) DO UPDATE SET position = excluded.position, events = excluded.events, saved_at = now()
       WHERE ledger_api.api_key_registry.position < excluded.position`,
      [String(position), JSON.stringify(stored)],
    );
  },
};
