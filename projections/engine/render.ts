import pg from 'pg';
import type { RowChange, SqlValue } from '../projection.js';

/**
 * Inlines a statement's values as escaped literals, so a whole batch travels
 * as one multi-statement query: one round trip per batch, not per event.
 * Literals are escaped by node-postgres' own `escapeLiteral`.
 */
export function render(change: RowChange): string {
  return change.text.replace(/\$(\d+)/g, (_, n: string) => {
    const index = Number(n) - 1;
    if (index < 0 || index >= change.values.length) throw new Error(`no value for $${n} in: ${change.text}`);
    return literal(change.values[index]!);
  });
}

function literal(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
    return String(value);
  }
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (value instanceof Date) return pg.escapeLiteral(value.toISOString());
  if (typeof value === 'string') return pg.escapeLiteral(value);
  return pg.escapeLiteral(JSON.stringify(value));
}
