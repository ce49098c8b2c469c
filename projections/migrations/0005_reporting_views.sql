-- Stable views for dashboards and ad-hoc SQL (README "Reporting views"): the `reporting`
-- schema names columns that stay, whatever the projections' tables become.
--
-- A view binds to its tables, not to their names: a rebuild swaps fresh tables in by
-- moving schemas and drops the old ones, which would take these views with them. So
-- the views are made by one function that the rebuild's swap calls again, in the same
-- transaction (projections/engine/rebuild.ts). A later migration that changes a view
-- replaces this function and calls it.

CREATE SCHEMA IF NOT EXISTS reporting;

CREATE OR REPLACE FUNCTION reporting.create_views() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  CREATE OR REPLACE VIEW reporting.accounts AS
  SELECT b.account_id,
         b.balance,
         coalesce(l.paid, 0)::bigint AS paid,
         coalesce(l.promotional, 0)::bigint AS promotional,
         b.total_granted,
         b.total_debited,
         b.total_refunded,
         b.total_expired,
         b.total_voided,
         b.created_at,
         b.updated_at,
         b.position
    FROM projections.account_balances b
    LEFT JOIN (
      SELECT account_id,
             sum(remaining) FILTER (WHERE category = 'paid') AS paid,
             sum(remaining) FILTER (WHERE category = 'promotional') AS promotional
        FROM projections.lots
       WHERE status = 'active'
       GROUP BY account_id
    ) l USING (account_id);

  CREATE OR REPLACE VIEW reporting.lots AS
  SELECT account_id, grant_id, category, source, reference, priority, granted, remaining,
         expires_at, status, granted_at, updated_at, position
    FROM projections.lots;

  CREATE OR REPLACE VIEW reporting.ledger_entries AS
  SELECT position, account_id, type, amount, balance_after, paid_after, promotional_after,
         project_id, reason, source, reference, grant_id, category, lots, event_id, at
    FROM projections.ledger_entries;

  CREATE OR REPLACE VIEW reporting.projects AS
  SELECT project_id, account_id, status, kind, cost, credits_used, refunded, attempt, worker_id,
         lease_expires_at, deadline_at, external_task_id, error_code, error_message,
         asset_url, preview_url, thumbnail_url, result_urls, metadata, created_at, updated_at, position
    FROM projections.projects;

  CREATE OR REPLACE VIEW reporting.daily_usage AS
  SELECT (e.at AT TIME ZONE 'UTC')::date AS day,
         e.account_id,
         p.kind,
         coalesce(sum(e.amount) FILTER (WHERE e.type = 'CreditsGranted'), 0)::bigint AS granted,
         coalesce(sum(e.amount) FILTER (WHERE e.type = 'Debited'), 0)::bigint AS debited,
         coalesce(sum(e.amount) FILTER (WHERE e.type = 'Refunded'), 0)::bigint AS refunded,
         coalesce(sum(e.amount) FILTER (WHERE e.type = 'CreditsExpired'), 0)::bigint AS expired,
         coalesce(sum(e.amount) FILTER (WHERE e.type = 'GrantVoided'), 0)::bigint AS voided,
         (coalesce(sum(e.amount) FILTER (WHERE e.type = 'Debited'), 0)
           - coalesce(sum(e.amount) FILTER (WHERE e.type = 'Refunded'), 0))::bigint AS used,
         count(*)::bigint AS entries
    FROM projections.ledger_entries e
    LEFT JOIN projections.projects p ON p.project_id = e.project_id
   GROUP BY 1, 2, 3;
END
$$;

SELECT reporting.create_views();
