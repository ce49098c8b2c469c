-- The keys a replica lets go ride its next claim instead of a statement of their own
-- (KeyLocks: a release waits a few milliseconds for a claim to carry it, then goes alone):
-- one statement fewer per command on the lock session. Same claim as 0008; the locks are
-- taken first, then the ones let go are unlocked (a key let go and claimed again in one
-- call is never free in between: session locks count), then the refusals are read.
CREATE FUNCTION ledger_api.claim_keys(p_unlocks bigint[], p_locks bigint[], p_callers text[], p_keys text[])
RETURNS TABLE (n bigint, locked boolean, request_hash text, status integer, body text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_locked boolean[];
BEGIN
  SELECT array_agg(pg_try_advisory_lock(l.key_lock) ORDER BY l.n) INTO v_locked
  FROM unnest(p_locks) WITH ORDINALITY AS l(key_lock, n);
  PERFORM pg_advisory_unlock(u.key_lock) FROM unnest(p_unlocks) AS u(key_lock);
  RETURN QUERY
    SELECT k.n, v_locked[k.n], r.request_hash, r.status, r.body
    FROM unnest(p_callers, p_keys) WITH ORDINALITY AS k(caller, idempotency_key, n)
    LEFT JOIN ledger_api.refusals r ON r.caller = k.caller AND r.idempotency_key = k.idempotency_key
    ORDER BY k.n;
END
$$;
