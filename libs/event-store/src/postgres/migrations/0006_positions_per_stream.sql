-- Every append answers, for each stream, also the position of that stream's
-- last event, in a new column `stream_position`. `last_position` keeps its
-- meaning (the append's last position, the same on every row): a replica of the
-- code before this migration, still running during a rolling deploy, reads the
-- first row's `last_position` as the append's position. The command executor
-- appends several commands in one append (a batch decided on one stream) and
-- answers each with the position of its own idempotency record, the last event
-- of that record's stream (`stream_position`).
--
-- A new column changes the functions' result types, which CREATE OR REPLACE
-- can't: they are dropped and created again (no grants to restore: like 0001,
-- which created them, the migrating role owns them). Bodies as in 0005 otherwise.

DROP FUNCTION event_store.append_group(jsonb);
DROP FUNCTION event_store.append_group_in_order(jsonb);
DROP FUNCTION event_store.append(jsonb, boolean);
DROP FUNCTION event_store.replay_result(jsonb);

CREATE FUNCTION event_store.replay_result(p_batch jsonb)
RETURNS TABLE (stream_name text, next_revision bigint, last_position bigint, stream_position bigint)
LANGUAGE sql STABLE AS $fn$
  WITH stored AS (
    SELECT e.stream_name, e.revision, e.position
    FROM jsonb_array_elements(p_batch) b
    CROSS JOIN LATERAL jsonb_array_elements(b->'events') x
    CROSS JOIN LATERAL (
      SELECT s.stream_name, s.revision, s.position FROM event_store.events s
      WHERE s.event_id = (x->>'id')::uuid AND s.stream_name = b->>'stream'
      LIMIT 1
    ) e
  )
  SELECT s.stream_name, max(s.revision), (SELECT max(position) FROM stored), max(s.position)
  FROM stored s GROUP BY s.stream_name ORDER BY s.stream_name
$fn$;

CREATE FUNCTION event_store.append(p_batch jsonb, p_check_replay boolean)
RETURNS TABLE (stream_name text, next_revision bigint, last_position bigint, stream_position bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  s jsonb;
  v_stream text;
  v_expected text;
  v_count bigint;
  v_next bigint;
  v_actual bigint;
  v_conflicts jsonb := '[]'::jsonb;
  v_results jsonb := '{}'::jsonb;
  v_positions jsonb := '{}'::jsonb;
  v_position bigint;
  v_last bigint;
BEGIN
  -- A retried append whose events are all stored already: answer as the first time.
  -- Checked up front only when asked (after a duplicate event id); otherwise a
  -- replay shows up as a conflict or a duplicate id, and is recognised then.
  IF p_check_replay AND event_store.is_replay(p_batch) THEN
    RETURN QUERY SELECT * FROM event_store.replay_result(p_batch);
    RETURN;
  END IF;

  -- 1. Expectations, in stream-name order: a fixed lock order, so two
  --    multi-stream appends can't deadlock.
  FOR s IN SELECT value FROM jsonb_array_elements(p_batch) ORDER BY value->>'stream' LOOP
    v_stream := s->>'stream';
    v_expected := s->>'expected';
    v_count := jsonb_array_length(s->'events');
    UPDATE event_store.streams AS t SET revision = t.revision + v_count
    WHERE t.stream_name = v_stream AND event_store.expectation_met(v_expected, t.revision)
    RETURNING t.revision INTO v_next;
    IF v_next IS NULL AND event_store.expectation_met(v_expected, NULL) THEN
      INSERT INTO event_store.streams AS t (stream_name, revision) VALUES (v_stream, v_count - 1)
      ON CONFLICT ON CONSTRAINT streams_pkey DO NOTHING
      RETURNING t.revision INTO v_next;
      IF v_next IS NULL THEN
        -- Another transaction created the stream since the update looked (the insert
        -- waited for it to commit): the rule decides again, on its row.
        UPDATE event_store.streams AS t SET revision = t.revision + v_count
        WHERE t.stream_name = v_stream AND event_store.expectation_met(v_expected, t.revision)
        RETURNING t.revision INTO v_next;
      END IF;
    END IF;

    IF v_next IS NULL THEN
      SELECT t.revision INTO v_actual FROM event_store.streams t WHERE t.stream_name = v_stream;
      v_conflicts := v_conflicts || jsonb_build_object(
        'stream', v_stream, 'expected', v_expected, 'actual', coalesce(v_actual, -1)::text);
    ELSE
      v_results := v_results || jsonb_build_object(v_stream, v_next::text);
    END IF;
  END LOOP;

  IF jsonb_array_length(v_conflicts) > 0 THEN
    -- A concurrent identical append may have won the race: then this is a replay.
    IF event_store.is_replay(p_batch) THEN
      RETURN QUERY SELECT * FROM event_store.replay_result(p_batch);
      RETURN;
    END IF;
    RAISE EXCEPTION 'version conflict' USING ERRCODE = 'LE409', DETAIL = v_conflicts::text;
  END IF;

  -- 2. Events, in the order given: positions follow the caller's order of
  --    streams and events. The row locks above gave this transaction an xid
  --    before any position is drawn; the subscription's gap protection relies on it.
  FOR s IN SELECT value FROM jsonb_array_elements(p_batch) LOOP
    v_stream := s->>'stream';
    v_next := (v_results->>v_stream)::bigint;
    v_count := jsonb_array_length(s->'events');
    WITH inserted AS (
      INSERT INTO event_store.events (stream_name, revision, event_id, event_type, data, metadata)
      SELECT v_stream, v_next - v_count + e.ord, (e.value->>'id')::uuid, e.value->>'type',
             e.value->'data', coalesce(e.value->'metadata', '{}'::jsonb)
      FROM jsonb_array_elements(s->'events') WITH ORDINALITY AS e(value, ord)
      ORDER BY e.ord
      RETURNING position
    )
    SELECT max(inserted.position) INTO v_position FROM inserted;
    v_positions := v_positions || jsonb_build_object(v_stream, v_position::text);
    v_last := greatest(v_last, v_position);
  END LOOP;

  -- No NOTIFY here: it takes a database-wide lock at commit and would serialise
  -- every append's commit. The adapter notifies after commit instead.
  RETURN QUERY SELECT r.key, r.value::bigint, v_last, (v_positions->>r.key)::bigint
               FROM jsonb_each_text(v_results) r ORDER BY r.key;
END
$fn$;

-- As in 0005, with the last position of each stream too.
CREATE FUNCTION event_store.append_group_in_order(p_group jsonb)
RETURNS TABLE (batch_index int, stream_name text, next_revision bigint, last_position bigint,
               stream_position bigint, conflicts jsonb)
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
      v_met := event_store.expectation_met(v_expected, v_actual);
      IF NOT v_met THEN
        v_conflicts := v_conflicts || jsonb_build_object(
          'stream', v_stream, 'expected', v_expected, 'actual', coalesce(v_actual, -1)::text);
      END IF;
    END LOOP;

    IF jsonb_array_length(v_conflicts) > 0 THEN
      IF event_store.is_replay(b) THEN
        RETURN QUERY SELECT bi, r.stream_name, r.next_revision, r.last_position, r.stream_position, NULL::jsonb
                     FROM event_store.replay_result(b) r;
      ELSE
        RETURN QUERY SELECT bi, NULL::text, NULL::bigint, NULL::bigint, NULL::bigint, v_conflicts;
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
    SELECT src.bi, src.stream, max(i.position) AS position
    FROM inserted i JOIN source src ON src.id = i.event_id GROUP BY src.bi, src.stream
  )
  SELECT a.bi, a.stream, a.next_revision, max(l.position) OVER (PARTITION BY a.bi), l.position, NULL::jsonb
  FROM accepted a JOIN last l ON l.bi = a.bi AND l.stream = a.stream
  ORDER BY a.bi, a.stream;
END
$fn$;

-- As in 0005, with the last position of each stream too.
CREATE FUNCTION event_store.append_group(p_group jsonb)
RETURNS TABLE (batch_index int, stream_name text, next_revision bigint, last_position bigint,
               stream_position bigint, conflicts jsonb)
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
    SELECT f.*, t.revision AS actual, event_store.expectation_met(f.expected, t.revision) AS met
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
      RETURN QUERY SELECT b, r.stream_name, r.next_revision, r.last_position, r.stream_position, NULL::jsonb
                   FROM event_store.replay_result(p_group->(b - 1)) r;
    ELSE
      RETURN QUERY
      SELECT b, NULL::text, NULL::bigint, NULL::bigint, NULL::bigint,
             jsonb_agg(jsonb_build_object('stream', x->>'stream', 'expected', x->>'expected',
                                          'actual', coalesce(t.revision, -1)::text) ORDER BY x->>'stream')
      FROM jsonb_array_elements(p_group->(b - 1)) x
      LEFT JOIN unnest(v_locked_names, v_locked_revisions) AS t(stream_name, revision)
        ON t.stream_name = x->>'stream'
      WHERE NOT event_store.expectation_met(x->>'expected', t.revision);
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
    SELECT src.bi, src.stream, max(i.position) AS position
    FROM inserted i JOIN source src ON src.id = i.event_id GROUP BY src.bi, src.stream
  )
  SELECT a.bi, a.stream, a.next_revision, max(l.position) OVER (PARTITION BY a.bi), l.position, NULL::jsonb
  FROM accepted a JOIN last l ON l.bi = a.bi AND l.stream = a.stream
  ORDER BY a.bi, a.stream;
END
$fn$;
