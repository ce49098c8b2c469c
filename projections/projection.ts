import type { StoredEvent } from '@ledger/event-store';

/** One SQL statement of a projection, with `$n` placeholders. */
export interface RowChange {
  text: string;
  values: readonly SqlValue[];
  /** When set, the statement must change exactly this many rows (asserted before commit). */
  expectRows?: number;
  /**
   * A fence, not a promise about the data: missing its row count means another
   * runner moved on (a retriable `FencedOffError`), not a broken projection.
   */
  fence?: boolean;
}

export type SqlValue = string | number | bigint | boolean | null | Date | Record<string, unknown> | readonly unknown[];

/**
 * A read model: a pure mapping from a batch of events (in position order) to
 * the row changes they cause, applied in order in one transaction. Mapping a
 * batch rather than an event lets a projection write set-based SQL (one
 * multi-row statement for the whole batch). `schema` names the schema its
 * tables live in, so a rebuild can fill fresh tables beside the live ones.
 */
export interface Projection {
  name: string;
  /**
   * The tables it alone writes, in the live schema. migrations/ define them; a rebuild
   * copies their definition from the live schema.
   */
  tables: readonly string[];
  map(events: readonly StoredEvent[], schema: string): RowChange[];
}

export const LIVE_SCHEMA = 'projections';

/**
 * Amounts are safe integers in events (the domain asserts it); bigint columns take them as
 * text. Checked all the same: a log written by other hands must stop the projection, not
 * turn into a wrong sum.
 */
export function amountOf(event: Readonly<{ id: string; type: string; data: Readonly<{ amount: unknown }> }>): string {
  const amount = event.data.amount;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount)) {
    throw new Error(`event ${event.id} (${event.type}) has no integer amount`);
  }
  return String(amount);
}

/** `($1, $2, ...), ($n+1, ...)`: placeholders for multi-row VALUES, numbered from `first`. */
export function valuesList(rows: number, columns: number, first = 1): string {
  const tuples: string[] = new Array<string>(rows);
  for (let r = 0, n = first; r < rows; r++) {
    let tuple = `($${n++}`;
    for (let c = 1; c < columns; c++) tuple += `, $${n++}`;
    tuples[r] = `${tuple})`;
  }
  return tuples.join(', ');
}

export function optionalText(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
