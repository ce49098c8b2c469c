
CREATE SCHEMA IF NOT EXISTS ledger_api;
-- The folded state of a long stream as of a revision: a cache, never the truth.
-- Deleting any row is safe; the stream is folded again from the start.
CREATE TABLE ledger_api.snapshots (
  stream_name text PRIMARY KEY,
  fold_version integer NOT NULL,
  revision bigint NOT NULL,
  last_position bigint NOT NULL,
  last_event_at timestamptz NOT NULL,
  state jsonb NOT NULL,
  taken_at timestamptz NOT NULL DEFAULT now()
);