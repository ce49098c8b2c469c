
CREATE SCHEMA IF NOT EXISTS projections;

CREATE TABLE projections.account_balances (
  account_id text PRIMARY KEY,
  balance bigint NOT NULL CHECK (balance >= 0),
  total_granted bigint NOT NULL,
  total_debited bigint NOT NULL,
  total_refunded bigint NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  position bigint NOT NULL
);

CREATE TABLE projections.projects (
  project_id text PRIMARY KEY,
  account_id text NOT NULL,
  status text NOT NULL,
  cost bigint NOT NULL,
  credits_used bigint,
  refunded bigint NOT NULL DEFAULT 0,
  attempt integer NOT NULL DEFAULT 0,
  worker_id text,
  lease_expires_at timestamptz,
  deadline_at timestamptz NOT NULL,
  kind text,
  external_task_id text,
  metadata jsonb,
  error_code text,
  error_message text,
  asset_url text,
  preview_url text,
  thumbnail_url text,
  result_urls jsonb,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  -- Position of ProjectStarted: a unique, increasing key for newest-first pages.
  started_position bigint NOT NULL UNIQUE,
  position bigint NOT NULL
);
CREATE INDEX ON projections.projects (account_id, started_position DESC);
CREATE INDEX ON projections.projects (status, started_position DESC);
CREATE INDEX ON projections.projects (external_task_id) WHERE external_task_id IS NOT NULL;

CREATE INDEX IF NOT EXISTS projects_in_flight_deadline_idx ON projections.projects (deadline_at)
  WHERE status IN ('pending', 'processing');
CREATE INDEX IF NOT EXISTS projects_processing_lease_idx ON projections.projects (lease_expires_at)
  WHERE status = 'processing';

CREATE TABLE projections.ledger_entries (
  position bigint PRIMARY KEY,
  account_id text NOT NULL,
  type text NOT NULL,
  amount bigint NOT NULL CHECK (amount > 0),
  balance_after bigint NOT NULL CHECK (balance_after >= 0),
  project_id text,
  reason text,
  source text,
  reference text,
  event_id uuid NOT NULL,
  at timestamptz NOT NULL
);
CREATE INDEX ON projections.ledger_entries (account_id, position DESC);
CREATE INDEX ON projections.ledger_entries (project_id) WHERE project_id IS NOT NULL;
CREATE TABLE projections.checkpoints (
  projection text PRIMARY KEY,
  position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO projections.checkpoints (projection, position) VALUES
  ('account_balances', 0), ('projects', 0), ('ledger_entries', 0);