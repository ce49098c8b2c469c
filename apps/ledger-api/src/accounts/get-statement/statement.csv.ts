import type { LedgerEntryRow } from '@ledger/projections';

export const CSV = 'text/csv';

const COLUMNS = [
  'position',
  'at',
  'type',
  'amount',
  'balanceAfter',
  'paidAfter',
  'promotionalAfter',
  'grantId',
  'projectId',
  'reason',
  'source',
  'reference',
  'lots',
] as const satisfies readonly (keyof LedgerEntryRow)[];

/** A statement's entries as CSV (RFC 4180): a header row, one row per entry, `lots` as JSON. */
export function statementCsv(entries: readonly LedgerEntryRow[]): string {
  const rows = entries.map((entry) => COLUMNS.map((column) => field(entry[column])).join(','));
  return [COLUMNS.join(','), ...rows].join('\r\n') + '\r\n';
}

function field(value: unknown): string {
  if (value === undefined || value === null) return '';
  let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  // Callers' text (a reason, a reference) that a spreadsheet would run as a formula is kept as text.
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
