import assert from 'node:assert';
import type pg from 'pg';

/**
 * What the table modules' named reads share: where they read, keyset pages, and
 * how pg's values become the JSON the API answers (numbers and ISO instants).
 */

/** A pool, or a client inside the caller's transaction (a snapshot, a swap). */
export type Queryable = pg.Pool | pg.ClientBase;

/** Where a keyset page starts: at most `limit` rows, strictly after the row with key `after`. */
export interface PageRequest {
  limit: number;
  after: bigint | undefined;
}

/**
 * A row of a page and its key, the cursor a next page starts after. A page read
 * returns `limit + 1` of them: the extra one only says that another page follows.
 */
export interface Keyed<T> {
  key: bigint;
  row: T;
}

/** Numbered placeholders for a statement built from optional filters. */
export class SqlParams {
  readonly values: unknown[] = [];

  /** Adds a value; returns its placeholder (`$n`). */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** A bigint column (pg returns it as text) as a JSON number: safe integers only. */
export function integerOf(text: string | number): number {
  const value = Number(text);
  assert(Number.isSafeInteger(value), `${text} is not a safe integer`);
  return value;
}

export function optionalIntegerOf(text: string | number | null): number | null {
  return text === null ? null : integerOf(text);
}

export function isoOf(at: Date): string {
  return at.toISOString();
}

export function optionalIsoOf(at: Date | null): string | null {
  return at === null ? null : at.toISOString();
}

/** A row's figures and the position of the last event it applied. */
export interface Positioned<Row> {
  row: Row;
  position: bigint;
}
