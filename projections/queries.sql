-- projectsTable.byId
-- $1 = "p-1"
SELECT project_id, account_id, status, cost, credits_used, refunded, attempt, worker_id, lease_expires_at, deadline_at, kind, external_task_id, metadata, error_code, error_message, asset_url, preview_url, thumbnail_url, result_urls, created_at, updated_at, started_position, position FROM projections.projects WHERE project_id = $1;

-- projectsTable.page (no filter, first page)
-- $1 = 51
SELECT project_id, account_id, status, cost, credits_used, refunded, attempt, worker_id, lease_expires_at, deadline_at, kind, external_task_id, metadata, error_code, error_message, asset_url, preview_url, thumbnail_url, result_urls, created_at, updated_at, started_position, position FROM projections.projects
ORDER BY started_position DESC LIMIT $1;

-- projectsTable.page (account and status, after a cursor)
-- $1 = "acc-1", $2 = "pending", $3 = "42", $4 = 51
SELECT project_id, account_id, status, cost, credits_used, refunded, attempt, worker_id, lease_expires_at, deadline_at, kind, external_task_id, metadata, error_code, error_message, asset_url, preview_url, thumbnail_url, result_urls, created_at, updated_at, started_position, position FROM projections.projects
WHERE account_id = $1 AND status = $2 AND started_position < $3
ORDER BY started_position DESC LIMIT $4;

-- projectsTable.page (missing assets)
-- $1 = 51
SELECT project_id, account_id, status, cost, credits_used, refunded, attempt, worker_id, lease_expires_at, deadline_at, kind, external_task_id, metadata, error_code, error_message, asset_url, preview_url, thumbnail_url, result_urls, created_at, updated_at, started_position, position FROM projections.projects
WHERE status = 'completed' AND asset_url IS NULL
ORDER BY started_position DESC LIMIT $1;

-- projectsTable.byExternalTask
-- $1 = "task-1"
SELECT project_id FROM projections.projects WHERE external_task_id = $1 ORDER BY started_position DESC LIMIT 1;

-- projectsTable.byExternalTasks
-- $1 = ["task-1","task-2"]
SELECT DISTINCT ON (external_task_id) external_task_id, project_id FROM projections.projects
WHERE external_task_id = ANY($1::text[]) ORDER BY external_task_id, started_position DESC;

-- projectsTable.dueForWatchdog
-- $1 = "2030-01-01T00:00:00.000Z", $2 = 3, $3 = 100
SELECT project_id, attempt, lease_expires_at, reason FROM (
(SELECT project_id, attempt, lease_expires_at, 'deadline_exceeded' AS reason, deadline_at AS due_at
FROM projections.projects
WHERE status IN ('pending', 'processing') AND deadline_at <= $1
ORDER BY deadline_at LIMIT $3)
UNION ALL
(SELECT project_id, attempt, lease_expires_at, 'attempts_exhausted' AS reason, lease_expires_at AS due_at
FROM projections.projects
WHERE status = 'processing' AND lease_expires_at <= $1 AND attempt >= $2 AND deadline_at > $1
ORDER BY lease_expires_at LIMIT $3)
) due
ORDER BY due_at, project_id
LIMIT $3;

-- projectsTable.figuresAfter
-- $1 = "", $2 = 5000
SELECT project_id, account_id, status, cost, credits_used, refunded, attempt
FROM projections.projects WHERE project_id > $1 ORDER BY project_id LIMIT $2;

-- projectsTable.figuresByIds
-- $1 = ["p-1","p-2"]
SELECT project_id, account_id, status, cost, credits_used, refunded, attempt, position
FROM projections.projects WHERE project_id = ANY($1::text[]);

-- accountBalancesTable.byId
-- $1 = "acc-1"
SELECT account_id, balance, total_granted, total_debited, total_refunded, total_expired, total_voided, updated_at, position FROM projections.account_balances WHERE account_id = $1;

-- accountBalancesTable.exists
-- $1 = "acc-1"
SELECT 1 FROM projections.account_balances WHERE account_id = $1;

-- accountBalancesTable.moneyAfter
-- $1 = "", $2 = 5000
SELECT account_id, balance, total_granted, total_debited, total_refunded, total_expired, total_voided FROM projections.account_balances WHERE account_id > $1 ORDER BY account_id LIMIT $2;

-- accountBalancesTable.moneyByIds
-- $1 = ["acc-1","acc-2"]
SELECT account_id, balance, total_granted, total_debited, total_refunded, total_expired, total_voided, position FROM projections.account_balances WHERE account_id = ANY($1::text[]);

-- ledgerEntriesTable.pageByAccount (newest first)
-- $1 = "acc-1", $2 = 51
SELECT position, type, amount, balance_after, paid_after, promotional_after, project_id, reason, source, reference, grant_id, lots, at
FROM projections.ledger_entries WHERE account_id = $1
ORDER BY position DESC LIMIT $2;

-- ledgerEntriesTable.pageByAccount (oldest first, after a cursor)
-- $1 = "acc-1", $2 = "42", $3 = 51
SELECT position, type, amount, balance_after, paid_after, promotional_after, project_id, reason, source, reference, grant_id, lots, at
FROM projections.ledger_entries WHERE account_id = $1 AND position > $2
ORDER BY position ASC LIMIT $3;

-- ledgerEntriesTable.balancesAt
-- $1 = "acc-1", $2 = "2030-01-01T00:00:00.000Z"
SELECT balance_after, paid_after, promotional_after, position FROM projections.ledger_entries
WHERE account_id = $1 AND at <= $2 ORDER BY at DESC, position DESC LIMIT 1;

-- ledgerEntriesTable.range
-- $1 = "acc-1", $2 = 41, $3 = 420, $4 = 10001
SELECT position, type, amount, balance_after, paid_after, promotional_after, project_id, reason, source, reference, grant_id, lots, at FROM projections.ledger_entries
WHERE account_id = $1 AND position > $2 AND position <= $3 ORDER BY position LIMIT $4;

-- lotsTable.page (active, first page)
-- $1 = "acc-1", $2 = "active", $3 = 51
SELECT grant_id, category, source, reference, priority, granted, remaining, expires_at, status, granted_at, granted_position FROM projections.lots WHERE account_id = $1 AND status = $2
ORDER BY priority, coalesce(expires_at, 'infinity'::timestamptz), (category = 'paid'), granted_position LIMIT $3;

-- lotsTable.page (expired, after a cursor)
-- $1 = "acc-1", $2 = "expired", $3 = "42", $4 = 51
SELECT grant_id, category, source, reference, priority, granted, remaining, expires_at, status, granted_at, granted_position FROM projections.lots WHERE account_id = $1 AND status = $2 AND (priority, coalesce(expires_at, 'infinity'::timestamptz), (category = 'paid'), granted_position) > (SELECT priority, coalesce(expires_at, 'infinity'::timestamptz), (category = 'paid'), granted_position FROM projections.lots WHERE granted_position = $3)
ORDER BY priority, coalesce(expires_at, 'infinity'::timestamptz), (category = 'paid'), granted_position LIMIT $4;

-- lotsTable.figuresAfter
-- $1 = "0", $2 = 5000
SELECT account_id, grant_id, category, source, reference, priority, granted, remaining, expires_at, status, granted_at, granted_position FROM projections.lots WHERE granted_position > $1 ORDER BY granted_position LIMIT $2;

-- lotsTable.byAccounts
-- $1 = ["acc-1","acc-2"]
SELECT account_id, grant_id, category, source, reference, priority, granted, remaining, expires_at, status, granted_at, granted_position, position FROM projections.lots WHERE account_id = ANY($1::text[]);

-- lotsTable.summary
-- $1 = "acc-1"
SELECT coalesce(sum(remaining) FILTER (WHERE category = 'paid'), 0) AS paid,
coalesce(sum(remaining) FILTER (WHERE category = 'promotional'), 0) AS promotional,
min(expires_at) AS next_at,
sum(remaining) FILTER (WHERE expires_at = (SELECT min(expires_at) FROM projections.lots
WHERE account_id = $1 AND status = 'active' AND expires_at IS NOT NULL)) AS next_amount
FROM projections.lots WHERE account_id = $1 AND status = 'active';

-- lotsTable.dueForExpiry
-- $1 = "2030-01-01T00:00:00.000Z", $2 = 100
SELECT account_id, grant_id, expires_at FROM projections.lots
WHERE status = 'active' AND expires_at IS NOT NULL AND expires_at <= $1 AND remaining > 0
ORDER BY expires_at, account_id, grant_id LIMIT $2;

-- checkpointsTable.positions
-- $1 = ["account_balances","projects"]
SELECT projection, position FROM projections.checkpoints WHERE projection = ANY($1);

-- checkpointsTable.lowest
-- $1 = ["account_balances","projects"]
SELECT coalesce(min(position), 0) AS position FROM projections.checkpoints WHERE projection = ANY($1);
