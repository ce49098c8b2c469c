-- Continuous reconciliation (README, "Audit and reconciliation"). One checker, active across
-- replicas by an advisory lock, follows the log from its own checkpoint and keeps, in one
-- transaction with that checkpoint: the fold of each account and project it has seen (the
-- invariant checker's aggregate, the read-model fold, the lots fold, as JSON), and what it
-- found. GET /v1/audit/reconciliation answers from these tables.
CREATE TABLE ledger_api.reconciliation_checkpoint (
  id smallint PRIMARY KEY CHECK (id = 1),
  -- Every event up to here is folded.
  position bigint NOT NULL,
  -- Every stream folded up to here was also compared with its read-model rows.
  compared_position bigint NOT NULL,
  accounts bigint NOT NULL DEFAULT 0,
  projects bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger_api.reconciliation_streams (
  kind text NOT NULL CHECK (kind IN ('account', 'project')),
  id text NOT NULL,
  state jsonb NOT NULL,
  -- The last event that changed this stream's fold.
  position bigint NOT NULL,
  -- Its read models had not reached `position` when it was folded: compared once they have.
  compare_pending boolean NOT NULL DEFAULT false,
  PRIMARY KEY (kind, id)
);
CREATE INDEX reconciliation_streams_pending_idx ON ledger_api.reconciliation_streams (position)
  WHERE compare_pending;

-- Open findings. origin 'log': an invariant broken by an event (kept: the log does not
-- change); 'state': one the stream's fold breaks as it stands (I2/I4 "owed", replaced each
-- time the stream moves); 'compare': a read-model row against the fold (replaced at each
-- comparison, so gone once the rows are right again).
CREATE TABLE ledger_api.reconciliation_findings (
  finding_id bigserial PRIMARY KEY,
  stream_kind text NOT NULL CHECK (stream_kind IN ('account', 'project')),
  stream_id text NOT NULL,
  origin text NOT NULL CHECK (origin IN ('log', 'state', 'compare')),
  kind text NOT NULL CHECK (kind IN ('mismatch', 'violation')),
  body jsonb NOT NULL,
  position bigint NOT NULL,
  found_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reconciliation_findings_stream_idx ON ledger_api.reconciliation_findings (stream_kind, stream_id, origin);
CREATE INDEX reconciliation_findings_kind_idx ON ledger_api.reconciliation_findings (kind, finding_id);
