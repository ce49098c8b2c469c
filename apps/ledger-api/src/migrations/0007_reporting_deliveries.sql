-- reporting.deliveries: outbound webhook deliveries for dashboards (README "Reporting
-- views"), one row per event × endpoint. Its table is not a projection, so no rebuild
-- swaps it and the view needs no re-creation (unlike reporting.create_views()).
-- The signed body is left out: dashboards count and age deliveries, they don't read them.

CREATE SCHEMA IF NOT EXISTS reporting;

CREATE OR REPLACE VIEW reporting.deliveries AS
SELECT d.delivery_id,
       d.webhook_id,
       d.endpoint_id,
       d.type,
       d.event_position,
       d.status,
       d.attempts,
       d.next_attempt_at,
       d.retry_until,
       d.last_status_code,
       d.created_at,
       d.updated_at,
       CASE WHEN d.status = 'pending' THEN now() - d.created_at END AS pending_for
  FROM ledger_api.outbound_deliveries d;
