
-- p_group: [batch, ...], each batch as for append(). Group commit: the batches of
-- concurrent appends go in one statement and one commit. Each batch is decided on
-- its own, in order, seeing the batches before it: a batch whose expectations fail
-- gets one row with its conflicts (or, if it is a replay, its original result) and
-- writes nothing; the others are written. A stream created by another transaction
-- while this one ran raises LE001: the caller then appends the batches one by one.
CREATE FUNCTION event_store.append_group(p_group jsonb)
RETURNS TABLE (batch_index int, stream_name text, next_revision bigint, last_position bigint, conflicts jsonb)
LANGUAGE plpgsql AS $fn$
DECLARE
  b jsonb;
  bi int;
  s jsonb;
  k int;
  v_stream text;
  v_expected text;
  v_count bigint;
  v_actual bigint;
  v_next bigint;
  v_actuals bigint[];
  v_met boolean;
  v_names text[];
  v_conflicts jsonb;
  v_batches int[] := '{}';
  v_streams text[] := '{}';
  v_nexts bigint[] := '{}';
BEGIN
  -- The group's existing streams, locked in name order before anything else: two
  -- groups, or a group and a single append, can't wait on each other in a cycle.
  -- (An array, not a subquery: the planner then looks each name up in the index.)
  v_names := ARRAY(
    SELECT DISTINCT x->>'stream' FROM jsonb_array_elements(p_group) g CROSS JOIN LATERAL jsonb_array_elements(g.value) x);
  PERFORM 1 FROM event_store.streams t WHERE t.stream_name = ANY (v_names) ORDER BY t.stream_name FOR UPDATE;

  FOR b, bi IN SELECT g.value, g.ordinality::int FROM jsonb_array_elements(p_group) WITH ORDINALITY g LOOP
    -- 1. Every expectation of the batch against the streams as they stand now.
    v_conflicts := '[]'::jsonb;
    v_actuals := '{}';
    FOR s IN SELECT value FROM jsonb_array_elements(b) ORDER BY value->>'stream' LOOP
      v_stream := s->>'stream';
      v_expected := s->>'expected';
      v_actual := NULL;
      SELECT t.revision INTO v_actual FROM event_store.streams t WHERE t.stream_name = v_stream;
      v_actuals := v_actuals || v_actual;
      v_met := CASE v_expected
                 WHEN 'any' THEN true
                 WHEN 'no_stream' THEN v_actual IS NULL
                 WHEN 'stream_exists' THEN v_actual IS NOT NULL
                 ELSE v_actual IS NOT DISTINCT FROM v_expected::bigint
               END;
      IF NOT v_met THEN
        v_conflicts := v_conflicts || jsonb_build_object(
          'stream', v_stream, 'expected', v_expected, 'actual', coalesce(v_actual, -1)::text);
      END IF;
    END LOOP;

    IF jsonb_array_length(v_conflicts) > 0 THEN
      IF event_store.is_replay(b) THEN
        RETURN QUERY SELECT bi, r.stream_name, r.next_revision, r.last_position, NULL::jsonb
                     FROM event_store.replay_result(b) r;
      ELSE
        RETURN QUERY SELECT bi, NULL::text, NULL::bigint, NULL::bigint, v_conflicts;
      END IF;
      CONTINUE;
    END IF;

    -- 2. The streams move on from exactly the revisions checked.
    k := 0;
    FOR s IN SELECT value FROM jsonb_array_elements(b) ORDER BY value->>'stream' LOOP
      k := k + 1;
      v_stream := s->>'stream';
      v_count := jsonb_array_length(s->'events');
      v_next := NULL;
      IF v_actuals[k] IS NULL THEN
        INSERT INTO event_store.streams AS t (stream_name, revision) VALUES (v_stream, v_count - 1)
        ON CONFLICT ON CONSTRAINT streams_pkey DO NOTHING
        RETURNING t.revision INTO v_next;
      ELSE
        UPDATE event_store.streams AS t SET revision = t.revision + v_count
        WHERE t.stream_name = v_stream AND t.revision = v_actuals[k]
        RETURNING t.revision INTO v_next;
      END IF;
      IF v_next IS NULL THEN
        RAISE EXCEPTION 'stream % changed while the group ran', v_stream USING ERRCODE = 'LE001';
      END IF;
      v_batches := v_batches || bi;
      v_streams := v_streams || v_stream;
      v_nexts := v_nexts || v_next;
    END LOOP;
  END LOOP;

  IF cardinality(v_batches) = 0 THEN
    RETURN;
  END IF;

  -- 3. Every accepted event in one insert, positions in the caller's order of
  --    batches, streams and events. The stream rows above gave this transaction
  --    an xid before any position is drawn (the subscription's gap protection).
  RETURN QUERY
  WITH accepted AS (
    SELECT * FROM unnest(v_batches, v_streams, v_nexts) AS a(bi, stream, next_revision)
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
