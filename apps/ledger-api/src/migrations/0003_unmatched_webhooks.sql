
-- A verified provider delivery whose task no project has (yet): kept, not lost, and
-- listed for an operator. One row per delivery (by its key, as idempotency keys it);
-- a delivery that later finds its project marks the task's rows matched.
CREATE TABLE ledger_api.unmatched_webhooks (
  id bigserial PRIMARY KEY,
  provider text NOT NULL,
  task_id text NOT NULL,
  delivery_key text NOT NULL,
  body text NOT NULL,
  deliveries integer NOT NULL DEFAULT 1,
  received_at timestamptz NOT NULL,
  last_received_at timestamptz NOT NULL,
  matched boolean NOT NULL DEFAULT false,
  matched_at timestamptz,
  UNIQUE (provider, delivery_key)
);
CREATE INDEX ON ledger_api.unmatched_webhooks (provider, task_id) WHERE NOT matched;
CREATE INDEX ON ledger_api.unmatched_webhooks (id DESC) WHERE NOT matched;