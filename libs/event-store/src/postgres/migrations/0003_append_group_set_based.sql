
-- The batch-by-batch version stays for groups where a stream appears in more
-- than one batch (a later batch must see an earlier one's revision).
ALTER FUNCTION event_store.append_group(jsonb) RENAME TO append_group_in_order;

-- Same contract as append_group_in_order. When no stream appears in two batches
-- (the usual case: the service runs one command per stream at a time), every
-- batch's expectations are independent, so they are checked and applied for the
-- whole group at once: a few statements per group instead of a few per stream.
CREATE FUNCTION event_store.append_group(p_group jsonb)
RETURNS TABLE (batch_index int, stream_name text, next_revision bigint, last_position bigint, conflicts jsonb)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_names text[];
  v_locked_names text[];
  v_locked_revisions bigint[];
  v_total int;
  v_rows int;
  v_expected_rows int;
  v_batches int[];
  v_streams text[];
  v_actuals bigint[];
  v_counts bigint[];
  v_refused int[];
  b int;
BEGIN
  SELECT array_agg(DISTINCT x->>'stream'), count(*)
  INTO v_names, v_total
  FROM jsonb_array_elements(p_group) g CROSS JOIN LATERAL jsonb_array_elements(g.value) x;
  IF cardinality(v_names) <> v_total THEN
    RETURN QUERY SELECT * FROM event_store.append_group_in_order(p_group);
    RETURN;
  END IF;

  -- Existing streams locked in name order first, as everywhere; a row lock
  -- returns the row's latest committed revision, which the checks below use.
  SELECT coalesce(array_agg(l.stream_name), '{}'), coalesce(array_agg(l.revision), '{}')
  INTO v_locked_names, v_locked_revisions
  FROM (
    SELECT t.stream_name, t.revision FROM event_store.streams t
    WHERE t.stream_name = ANY (v_names) ORDER BY t.stream_name FOR UPDATE
  ) l;

  -- Every expectation against the streams as they stand; a batch goes through only if all of its are met.
  WITH flat AS (
    SELECT g.ordinality::int AS bi, x.value->>'stream' AS stream, x.value->>'expected' AS expected,
           jsonb_array_length(x.value->'events')::bigint AS n
    FROM jsonb_array_elements(p_group) WITH ORDINALITY g
    CROSS JOIN LATERAL jsonb_array_elements(g.value) x
  ),
  checked AS (
    SELECT f.*, t.revision AS actual,
           CASE f.expected
             WHEN 'any' THEN true
             WHEN 'no_stream' THEN t.revision IS NULL
             WHEN 'stream_exists' THEN t.revision IS NOT NULL
             ELSE t.revision IS NOT DISTINCT FROM f.expected::bigint
           END AS met
    FROM flat f LEFT JOIN unnest(v_locked_names, v_locked_revisions) AS t(stream_name, revision)
      ON t.stream_name = f.stream
  ),
  verdicts AS (
    SELECT c.*, bool_and(c.met) OVER (PARTITION BY c.bi) AS accepted FROM checked c
  )
  SELECT array_agg(v.bi ORDER BY v.bi, v.stream) FILTER (WHERE v.accepted),
         array_agg(v.stream ORDER BY v.bi, v.stream) FILTER (WHERE v.accepted),
         array_agg(v.actual ORDER BY v.bi, v.stream) FILTER (WHERE v.accepted),
         array_agg(v.n ORDER BY v.bi, v.stream) FILTER (WHERE v.accepted),
         array_agg(DISTINCT v.bi) FILTER (WHERE NOT v.accepted)
  INTO v_batches, v_streams, v_actuals, v_counts, v_refused
  FROM verdicts v;

  -- Refused batches: their conflicts, or their original result if they are replays.
  FOREACH b IN ARRAY coalesce(v_refused, '{}') LOOP
    IF event_store.is_replay(p_group->(b - 1)) THEN
      RETURN QUERY SELECT b, r.stream_name, r.next_revision, r.last_position, NULL::jsonb
                   FROM event_store.replay_result(p_group->(b - 1)) r;
    ELSE
      RETURN QUERY
      SELECT b, NULL::text, NULL::bigint, NULL::bigint,
             jsonb_agg(jsonb_build_object('stream', x->>'stream', 'expected', x->>'expected',
                                          'actual', coalesce(t.revision, -1)::text) ORDER BY x->>'stream')
      FROM jsonb_array_elements(p_group->(b - 1)) x
      LEFT JOIN unnest(v_locked_names, v_locked_revisions) AS t(stream_name, revision)
        ON t.stream_name = x->>'stream'
      WHERE CASE x->>'expected'
              WHEN 'any' THEN false
              WHEN 'no_stream' THEN t.revision IS NOT NULL
              WHEN 'stream_exists' THEN t.revision IS NULL
              ELSE t.revision IS DISTINCT FROM (x->>'expected')::bigint
            END;
    END IF;
  END LOOP;

  IF v_batches IS NULL THEN
    RETURN;
  END IF;

  -- The streams move on from exactly the revisions checked. A new stream that
  -- another transaction created meanwhile, or a row that moved, stops the group.
  INSERT INTO event_store.streams AS t (stream_name, revision)
  SELECT a.stream, a.n - 1 FROM unnest(v_streams, v_actuals, v_counts) AS a(stream, actual, n)
  WHERE a.actual IS NULL ORDER BY a.stream
  ON CONFLICT ON CONSTRAINT streams_pkey DO NOTHING;
  GET DIAGNOSTICS v_rows = ROW_COUNT;
  SELECT count(*) FILTER (WHERE a IS NULL) INTO v_expected_rows FROM unnest(v_actuals) a;
  IF v_rows <> v_expected_rows THEN
    RAISE EXCEPTION 'a stream of the group was created meanwhile' USING ERRCODE = 'LE001';
  END IF;
  -- (= ANY of the names too: the planner then looks them up in the index instead of scanning.)
  UPDATE event_store.streams AS t SET revision = t.revision + a.n
  FROM unnest(v_streams, v_actuals, v_counts) AS a(stream, actual, n)
  WHERE a.actual IS NOT NULL AND t.stream_name = a.stream AND t.revision = a.actual
    AND t.stream_name = ANY (v_streams);
  GET DIAGNOSTICS v_rows = ROW_COUNT;
  IF v_rows <> cardinality(v_streams) - v_expected_rows THEN
    RAISE EXCEPTION 'a stream of the group moved meanwhile' USING ERRCODE = 'LE001';
  END IF;

  -- Every accepted event in one insert, positions in the caller's order. The
  -- stream rows above gave this transaction an xid before any position is drawn.
  RETURN QUERY
  WITH accepted AS (
    SELECT a.bi, a.stream, coalesce(a.actual, -1) + a.n AS next_revision
    FROM unnest(v_batches, v_streams, v_actuals, v_counts) AS a(bi, stream, actual, n)
  ),
  source AS (
    SELECT a.bi, x.ordinality AS xo, e.ordinality AS eo, a.stream,
           a.next_revision - jsonb_array_length(x.value->'events') + e.ordinality AS revision,
           (e.value->>'id')::uuid AS id, e.value->>'type' AS type, e.value->'data' AS data,
           coalesce(e.value->'metadata', '{}'::jsonb) AS metadata
    FROM accepted a
    CROSS JOIN LATERAL jsonb_array_elements(p_group->(a.bi - 1)) WITH ORDINALITY x
    CROSS JOIN LATERAL jsonb_array_elements(x.value->'events') WITH ORDINALITY e
    WHERE x.value->>'stream' = a.stream
  ),
  inserted AS (
    INSERT INTO event_store.events (stream_name, revision, event_id, event_type, data, metadata)
    SELECT src.stream, src.revision, src.id, src.type, src.data, src.metadata
    FROM source src ORDER BY src.bi, src.xo, src.eo
    RETURNING event_id, position
  ),
  last AS (
    SELECT src.bi, max(i.position) AS position FROM inserted i JOIN source src ON src.id = i.event_id GROUP BY src.bi
  )
  SELECT a.bi, a.stream, a.next_revision, l.position, NULL::jsonb
  FROM accepted a JOIN last l ON l.bi = a.bi
  ORDER BY a.bi, a.stream;
END
$fn$;
