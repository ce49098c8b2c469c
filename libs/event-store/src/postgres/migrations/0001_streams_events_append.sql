
CREATE SCHEMA IF NOT EXISTS event_store;

-- One row per stream: its last revision. Appends lock it, which serialises writers of one stream.
CREATE TABLE event_store.streams (
  stream_name text PRIMARY KEY,
  revision bigint NOT NULL CHECK (revision >= 0)
);

CREATE SEQUENCE event_store.position_seq AS bigint START 1 CACHE 1;

CREATE TABLE event_store.events (
  position bigint PRIMARY KEY DEFAULT nextval('event_store.position_seq'),
  stream_name text NOT NULL,
  revision bigint NOT NULL,
  event_id uuid NOT NULL,
  event_type text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT events_stream_revision_key UNIQUE (stream_name, revision),
  CONSTRAINT events_event_id_key UNIQUE (event_id)
);
ALTER SEQUENCE event_store.position_seq OWNED BY event_store.events.position;

-- p_batch: [{"stream": text, "expected": "any"|"no_stream"|"stream_exists"|"<revision>",
--            "events": [{"id", "type", "data", "metadata"}]}]
-- Raises SQLSTATE 'LE409' with the conflicts as JSON in DETAIL; nothing is written then.
CREATE FUNCTION event_store.append(p_batch jsonb, p_check_replay boolean)
RETURNS TABLE (stream_name text, next_revision bigint, last_position bigint)
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
  v_position bigint;
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
    v_next := NULL;
    IF v_expected = 'any' THEN
      INSERT INTO event_store.streams AS t (stream_name, revision) VALUES (v_stream, v_count - 1)
      ON CONFLICT ON CONSTRAINT streams_pkey DO UPDATE SET revision = t.revision + v_count
      RETURNING t.revision INTO v_next;
    ELSIF v_expected = 'no_stream' THEN
      INSERT INTO event_store.streams AS t (stream_name, revision) VALUES (v_stream, v_count - 1)
      ON CONFLICT ON CONSTRAINT streams_pkey DO NOTHING
      RETURNING t.revision INTO v_next;
    ELSIF v_expected = 'stream_exists' THEN
      UPDATE event_store.streams AS t SET revision = t.revision + v_count
      WHERE t.stream_name = v_stream RETURNING t.revision INTO v_next;
    ELSE
      UPDATE event_store.streams AS t SET revision = v_expected::bigint + v_count
      WHERE t.stream_name = v_stream AND t.revision = v_expected::bigint
      RETURNING t.revision INTO v_next;
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
    SELECT greatest(max(inserted.position), v_position) INTO v_position FROM inserted;
  END LOOP;

  -- No NOTIFY here: it takes a database-wide lock at commit and would serialise
  -- every append's commit. The adapter notifies after commit instead.
  RETURN QUERY SELECT r.key, r.value::bigint, v_position FROM jsonb_each_text(v_results) r ORDER BY r.key;
END
$fn$;

-- True when every event of the batch is already stored in the stream it is addressed to.
CREATE FUNCTION event_store.is_replay(p_batch jsonb) RETURNS boolean
LANGUAGE sql STABLE AS $fn$
  SELECT count(e.position) = count(*) AND count(*) > 0
  FROM jsonb_array_elements(p_batch) b
  CROSS JOIN LATERAL jsonb_array_elements(b->'events') x
  LEFT JOIN event_store.events e
    ON e.event_id = (x->>'id')::uuid AND e.stream_name = b->>'stream'
$fn$;

CREATE FUNCTION event_store.replay_result(p_batch jsonb)
RETURNS TABLE (stream_name text, next_revision bigint, last_position bigint)
LANGUAGE sql STABLE AS $fn$
  WITH stored AS (
    SELECT e.stream_name, e.revision, e.position
    FROM jsonb_array_elements(p_batch) b
    CROSS JOIN LATERAL jsonb_array_elements(b->'events') x
    JOIN event_store.events e ON e.event_id = (x->>'id')::uuid AND e.stream_name = b->>'stream'
  )
  SELECT s.stream_name, max(s.revision), (SELECT max(position) FROM stored)
  FROM stored s GROUP BY s.stream_name ORDER BY s.stream_name
$fn$;
