-- Credit lots (issue 12): one row per lot, the account's expired and voided totals, and
-- on each ledger entry the lot it names, the lots it drew or returned, and the paid and
-- promotional balances after it (so a balance at any time is one indexed read).

CREATE TABLE projections.lots (
  account_id text NOT NULL,
  grant_id text NOT NULL,
  category text NOT NULL CHECK (category IN ('paid', 'promotional')),
  source text NOT NULL,
  reference text,
  priority integer NOT NULL,
  granted bigint NOT NULL CHECK (granted > 0),
  remaining bigint NOT NULL CHECK (remaining >= 0),
  expires_at timestamptz,
  status text NOT NULL CHECK (status IN ('active', 'exhausted', 'expired', 'voided')),
  granted_at timestamptz NOT NULL,
  -- Position of CreditsGranted: unique, the oldest grant first, and the key of a page.
  granted_position bigint NOT NULL UNIQUE,
  updated_at timestamptz NOT NULL,
  position bigint NOT NULL,
  PRIMARY KEY (account_id, grant_id)
);
-- An account's lots of one status in the spending order (API.md): lowest priority, the
-- earliest expiry (never last), promotional before paid, the oldest grant.
CREATE INDEX lots_spending_order_idx ON projections.lots
  (account_id, status, priority, (coalesce(expires_at, 'infinity'::timestamptz)), ((category = 'paid')), granted_position);
-- The watchdog's expiry sweep: active lots by expiry.
CREATE INDEX lots_active_expiry_idx ON projections.lots (expires_at)
  WHERE status = 'active' AND expires_at IS NOT NULL;

INSERT INTO projections.checkpoints (projection, position) VALUES ('lots', 0);

ALTER TABLE projections.account_balances
  ADD COLUMN total_expired bigint NOT NULL DEFAULT 0,
  ADD COLUMN total_voided bigint NOT NULL DEFAULT 0;

-- Every entry written before lots is of a paid lot that never expires (DESIGN.md): its
-- grant is named after its event id, and all of its balance is paid.
ALTER TABLE projections.ledger_entries
  ADD COLUMN grant_id text,
  ADD COLUMN category text CHECK (category IN ('paid', 'promotional')),
  ADD COLUMN lots jsonb,
  ADD COLUMN paid_after bigint CHECK (paid_after >= 0),
  ADD COLUMN promotional_after bigint CHECK (promotional_after >= 0);
UPDATE projections.ledger_entries
   SET paid_after = balance_after, promotional_after = 0,
       grant_id = CASE WHEN type = 'CreditsGranted' THEN event_id::text END,
       category = CASE WHEN type = 'CreditsGranted' THEN 'paid' END;
ALTER TABLE projections.ledger_entries
  ALTER COLUMN paid_after SET NOT NULL,
  ALTER COLUMN promotional_after SET NOT NULL;
-- A lot's category, looked up by the entries that draw from it.
CREATE INDEX ledger_entries_grant_idx ON projections.ledger_entries (account_id, grant_id)
  WHERE type = 'CreditsGranted';
-- The last entry at or before an instant: `balance?at=` and a statement's opening and closing.
CREATE INDEX ledger_entries_account_at_idx ON projections.ledger_entries (account_id, at DESC, position DESC);
