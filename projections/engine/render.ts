import pg from 'pg';
import type { RowChange, SqlValue } from '../projection.js';

/**
 * Inlines a statement's values as escaped literals, so a whole batch travels
 * as one multi-statement query: one round trip per batch, not per event.
 * Literals are escaped by node-postgres' own `escapeLiteral`.
 */
export function render(change: RowChange): string {
  const { text, values } = change;
  // A plain scan rather than a regex replace: batches of thousands of rows pass through here.
  let sql = '';
  let copied = 0;
  for (let at = text.indexOf('$'); at >= 0; at = text.indexOf('$', at + 1)) {
    let end = at + 1;
    let n = 0;
    for (let c = text.charCodeAt(end); c >= 48 && c <= 57; c = text.charCodeAt(++end)) n = n * 10 + (c - 48);
    if (end === at + 1) continue;
    if (n < 1 || n > values.length) throw new Error(`no value for $${n} in: ${text}`);
    sql += text.slice(copied, at) + literal(values[n - 1]!);
    copied = end;
    at = end - 1;
  }
  return copied === 0 ? text : sql + text.slice(copied);
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
