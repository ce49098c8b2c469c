import assert from 'node:assert';
import type { Keyed, PageRequest } from '@ledger/projections';

/** API.md "Lists": `?limit=` 1–500, default 50. */
export const PAGE_LIMIT_DEFAULT = 50;
export const PAGE_LIMIT_MAX = 500;

/** A page of a list, newest first unless the list says otherwise. */
export interface Page<T> {
  items: T[];
  /** Pass as `?cursor=` for the next page; null on the last one. */
  nextCursor: string | null;
}

export type { PageRequest } from '@ledger/projections';

// Keys are global positions (bigint columns): the largest a Postgres bigint holds.
const KEY_MAX = 2n ** 63n - 1n;
const CURSOR_VERSION = '1';
const CURSOR_TEXT = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Cursors are opaque to callers: base64url of a version and the last row's
 * key, so the encoding can change without breaking the ones in flight (a
 * version we no longer read is a 400, and the caller starts over).
 */
export function encodeCursor(key: bigint): string {
  return Buffer.from(`${CURSOR_VERSION}:${key}`, 'utf8').toString('base64url');
}

/** The key a cursor carries, or undefined when it is not one of ours. */
export function decodeCursor(cursor: string): bigint | undefined {
  if (!CURSOR_TEXT.test(cursor)) return undefined;
  const match = /^(\d+):(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match || match[1] !== CURSOR_VERSION) return undefined;
  const key = BigInt(match[2]!);
  return key <= KEY_MAX ? key : undefined;
}

/**
 * The page from rows read with `LIMIT limit + 1`: the extra row only says
 * that there is a next page, which starts after the last row returned.
 */
export function pageOf<R, T>(rows: readonly R[], request: PageRequest, keyOf: (row: R) => bigint, view: (row: R) => T) {
  assert(rows.length <= request.limit + 1, `read ${rows.length} rows for a page of ${request.limit}`);
  const pageRows = rows.slice(0, request.limit);
  const last = pageRows.at(-1);
  const page: Page<T> = {
    items: pageRows.map(view),
    nextCursor: rows.length > request.limit && last !== undefined ? encodeCursor(keyOf(last)) : null,
  };
  return page;
}

/** The page from a table's keyed page read (`limit + 1` rows, each with its key). */
export function keyedPageOf<T>(rows: readonly Keyed<T>[], request: PageRequest): Page<T> {
  return pageOf(
    rows,
    request,
    (keyed) => keyed.key,
    (keyed) => keyed.row,
  );
}
