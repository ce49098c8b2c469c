
-- A refused command appends no event, yet its repeat must get the same answer:
-- the refusal is kept here, outside the event log, by caller and key.
CREATE TABLE ledger_api.refusals (
  caller text NOT NULL,
  idempotency_key text NOT NULL,
  request_hash text NOT NULL,
  status integer NOT NULL,
  body text NOT NULL,
  refused_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (caller, idempotency_key)
);