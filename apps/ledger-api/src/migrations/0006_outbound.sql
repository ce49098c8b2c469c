-- Outbound webhooks (API.md, "Outbound webhooks"). The dispatcher (one active across
-- replicas) follows the log and writes, in one transaction with its checkpoint: the
-- endpoints as their streams say, what it needs to notice (each account's balance and
-- threshold, lots with an expiry), and one delivery row per subscribed event and endpoint.
-- Senders on every replica then claim due deliveries with FOR UPDATE SKIP LOCKED.
CREATE TABLE ledger_api.outbound_checkpoint (
  id smallint PRIMARY KEY CHECK (id = 1),
  position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The signing secrets, apart from the log (its events name them by secret_id only).
CREATE TABLE ledger_api.outbound_secrets (
  secret_id text PRIMARY KEY,
  endpoint_id text NOT NULL,
  secret text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger_api.outbound_endpoints (
  endpoint_id text PRIMARY KEY,
  url text NOT NULL,
  events text[] NOT NULL,
  description text,
  status text NOT NULL CHECK (status IN ('enabled', 'disabled')),
  secret_id text NOT NULL,
  previous_secret_id text,
  previous_expires_at timestamptz,
  created_at timestamptz NOT NULL,
  position bigint NOT NULL,
  updated_position bigint NOT NULL
);

-- What balance.low needs: each account's balance as the log says, its own threshold if
-- one was set (threshold_set: NULL then means "none"), and whether it is below it now.
CREATE TABLE ledger_api.outbound_accounts (
  account_id text PRIMARY KEY,
  balance bigint NOT NULL DEFAULT 0,
  low_balance_threshold bigint,
  threshold_set boolean NOT NULL DEFAULT false
);

-- Lots with an expiry whose credits.expiring is not yet sent; gone when sent, expired or voided.
CREATE TABLE ledger_api.outbound_lots (
  account_id text NOT NULL,
  grant_id text NOT NULL,
  remaining bigint NOT NULL,
  expires_at timestamptz NOT NULL,
  category text,
  position bigint NOT NULL,
  PRIMARY KEY (account_id, grant_id)
);
CREATE INDEX outbound_lots_expires_at_idx ON ledger_api.outbound_lots (expires_at);

CREATE TABLE ledger_api.outbound_deliveries (
  delivery_id bigserial PRIMARY KEY,
  endpoint_id text NOT NULL,
  webhook_id text NOT NULL UNIQUE,
  type text NOT NULL,
  event_position bigint NOT NULL,
  -- The exact bytes signed and sent on every attempt.
  body text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  retry_until timestamptz NOT NULL,
  last_status_code integer,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbound_deliveries_due_idx ON ledger_api.outbound_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbound_deliveries_endpoint_idx ON ledger_api.outbound_deliveries (endpoint_id, delivery_id);

CREATE TABLE ledger_api.outbound_attempts (
  delivery_id bigint NOT NULL REFERENCES ledger_api.outbound_deliveries (delivery_id),
  attempt integer NOT NULL,
  started_at timestamptz NOT NULL,
  duration_ms integer NOT NULL,
  status_code integer,
  error text,
  PRIMARY KEY (delivery_id, attempt)
);
