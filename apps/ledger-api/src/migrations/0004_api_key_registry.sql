
-- Where a replica's key registry starts: the key events of the log up to `position`,
-- so a start reads the log on from there rather than from its beginning. Any replica
-- may write it (the same log gives the same events); a write never moves it back.
CREATE TABLE ledger_api.api_key_registry (
  id smallint PRIMARY KEY CHECK (id = 1),
  position bigint NOT NULL,
  events jsonb NOT NULL,
  saved_at timestamptz NOT NULL DEFAULT now()
);
