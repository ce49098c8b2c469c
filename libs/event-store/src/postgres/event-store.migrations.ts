import type { MigrationSet } from '@ledger/platform';

/**
 * Schema of the PostgreSQL event store: the files of ./migrations. Append is
 * one SQL function so a multi-stream append is a single statement: one round
 * trip, atomic by itself.
 */
export const eventStoreMigrations: MigrationSet = {
  component: 'event_store',
  folder: new URL('./migrations/', import.meta.url),
  recordedBeforeChecksums: {
    1: 'streams, events, append function',
    2: 'group append',
    3: 'group append, set-based when its streams are disjoint',
    4: 'replay checks look each event up by its id',
  },
};
