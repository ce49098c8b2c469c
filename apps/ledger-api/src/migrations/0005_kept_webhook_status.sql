-- A kept provider delivery (its task had no project yet) is applied when a project with
-- its task starts, or expires after LEDGER_WEBHOOK_UNMATCHED_DAYS; either way it stays
-- listed. `status` replaces `matched`: kept (waiting), applied (through the command path,
-- answered `applied_status`, at `position` when accepted), expired (never applied by the
-- service; a re-delivery by the provider still applies normally).
-- `request_hash` is the delivery's request hash as idempotency keeps it, so that its
-- application and the provider's later repeats are one request (rows from before this
-- file have none: the service computes it from the body and the provider's path).
ALTER TABLE ledger_api.unmatched_webhooks
  ADD COLUMN status text NOT NULL DEFAULT 'kept' CHECK (status IN ('kept', 'applied', 'expired')),
  ADD COLUMN request_hash text,
  ADD COLUMN project_id text,
  ADD COLUMN applied_status integer,
  ADD COLUMN position bigint,
  ADD COLUMN expired_at timestamptz;
UPDATE ledger_api.unmatched_webhooks SET status = 'applied' WHERE matched;
ALTER TABLE ledger_api.unmatched_webhooks RENAME COLUMN matched_at TO applied_at;
-- Drops its two partial indexes with it.
ALTER TABLE ledger_api.unmatched_webhooks DROP COLUMN matched;
-- The reactor's lookups: kept deliveries by task, and by age for the expiry.
CREATE INDEX unmatched_webhooks_kept_task_idx ON ledger_api.unmatched_webhooks (task_id) WHERE status = 'kept';
CREATE INDEX unmatched_webhooks_kept_received_idx ON ledger_api.unmatched_webhooks (received_at, id)
  WHERE status = 'kept';
-- The list: deliveries not applied (kept and expired) newest first, or those of one status.
CREATE INDEX unmatched_webhooks_status_id_idx ON ledger_api.unmatched_webhooks (status, id DESC);
