
-- One answer per Idempotency-Key across replicas: before a command is decided, its
-- replica takes a session-level advisory lock on its key (caller and key, hashed), on a
-- connection it keeps for these locks, and holds it until the command's answer is stored
-- (its events and record appended, or its refusal kept). The lock dies with the session,
-- so a replica that crashes never holds a key for long.
--
-- Takes the locks it can (p_locks[n], a key another session holds is not waited for),
-- then, in a statement of its own (VOLATILE: a snapshot taken after the locks are
-- held), reads the refusals kept for the keys: what a replica that held a key before
-- kept is seen by the one that holds it next.
CREATE FUNCTION ledger_api.claim_keys(p_locks bigint[], p_callers text[], p_keys text[])
RETURNS TABLE (n bigint, locked boolean, request_hash text, status integer, body text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_locked boolean[];
BEGIN
  SELECT array_agg(pg_try_advisory_lock(l.key_lock) ORDER BY l.n) INTO v_locked
  FROM unnest(p_locks) WITH ORDINALITY AS l(key_lock, n);
  RETURN QUERY
    SELECT k.n, v_locked[k.n], r.request_hash, r.status, r.body
    FROM unnest(p_callers, p_keys) WITH ORDINALITY AS k(caller, idempotency_key, n)
    LEFT JOIN ledger_api.refusals r ON r.caller = k.caller AND r.idempotency_key = k.idempotency_key
    ORDER BY k.n;
END
$$;
