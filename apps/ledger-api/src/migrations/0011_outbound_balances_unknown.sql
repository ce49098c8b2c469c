-- The outbound dispatcher keeps the accounts' balances only while an enabled endpoint
-- subscribes to a type that needs them (credits.*, balance.low). When it starts keeping
-- them again, those kept before are stale: NULL is "not known", and the balance is folded
-- from the account's stream the first time it is needed.
ALTER TABLE ledger_api.outbound_accounts ALTER COLUMN balance DROP NOT NULL;
ALTER TABLE ledger_api.outbound_accounts ALTER COLUMN balance DROP DEFAULT;
