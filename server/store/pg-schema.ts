/**
 * The PostgreSQL schema, as numbered migrations: `meta.schema_version` says how many ran. They run
 * at start under an advisory lock (MIGRATE_LOCK), each in its own transaction, so two nodes
 * starting at once never race and a restart runs none again.
 *
 * Text keys are `COLLATE "C"` (byte order, as SQLite compares), so paging orders match the SQLite store.
 * Events are appended by `agentd_append` (one) and `agentd_append_batch` (several, one notification) only: under one transaction-scoped advisory lock
 * (EVENT_LOCK) it takes the id from a sequence and the session's next seq from its counter, so
 * ids are in commit order (an all-events reader after id N misses nothing) and seqs have no holes.
 * It NOTIFYs `agentd_events` with "<node> <id>" (ids, never bodies) and first returns the events
 * other nodes committed after the caller's cursor, so a node delivers every event in id order.
 */

/** pg_advisory_lock key of migrations. */
export const MIGRATE_LOCK = 7_210_001;
/** pg_advisory_xact_lock key of event appends. */
const EVENT_LOCK = 7_210_002;

export const MIGRATIONS: string[] = [
  `
CREATE TABLE sessions (
  id TEXT COLLATE "C" PRIMARY KEY, json TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'idle',
  active_turn_id TEXT, owner_pid BIGINT, created_at TEXT COLLATE "C" NOT NULL, updated_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX sessions_updated ON sessions (updated_at, id);
CREATE TABLE messages (
  ord BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE,
  session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions(id) ON DELETE CASCADE, json TEXT NOT NULL
);
CREATE INDEX messages_session ON messages (session_id, ord);
CREATE SEQUENCE event_ids;
CREATE TABLE events (
  id BIGINT PRIMARY KEY, session_id TEXT COLLATE "C", seq BIGINT NOT NULL, type TEXT NOT NULL, json TEXT NOT NULL,
  node BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX events_session_seq ON events (session_id, seq);
CREATE TABLE session_seqs (session_id TEXT COLLATE "C" PRIMARY KEY, seq BIGINT NOT NULL);
CREATE TABLE kv (ns TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, value TEXT NOT NULL, PRIMARY KEY (ns, key));
CREATE TABLE nodes (
  id BIGSERIAL PRIMARY KEY, pid INTEGER, started_at TIMESTAMPTZ NOT NULL DEFAULT now(), heartbeat TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE FUNCTION agentd_append(p_node BIGINT, p_after BIGINT, p_session TEXT, p_type TEXT, p_time TEXT, p_data TEXT)
RETURNS TABLE (id BIGINT, session_id TEXT, seq BIGINT, type TEXT, json TEXT) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE v_id BIGINT; v_seq BIGINT; v_json TEXT;
BEGIN
  PERFORM pg_advisory_xact_lock(${EVENT_LOCK});
  RETURN QUERY SELECT e.id, e.session_id::text, e.seq, e.type, e.json FROM events e WHERE e.id > p_after AND e.node <> p_node ORDER BY e.id;
  v_id := nextval('event_ids');
  IF p_session IS NULL THEN
    v_seq := v_id;
  ELSE
    INSERT INTO session_seqs AS s (session_id, seq) VALUES (p_session, 1)
      ON CONFLICT (session_id) DO UPDATE SET seq = s.seq + 1 RETURNING s.seq INTO v_seq;
  END IF;
  v_json := format('{"id":%s,"sessionId":%s,"seq":%s,"type":%s,"time":%s,"data":%s}',
    v_id, coalesce(to_json(p_session)::text, 'null'), v_seq, to_json(p_type)::text, to_json(p_time)::text, p_data);
  INSERT INTO events (id, session_id, seq, type, json, node) VALUES (v_id, p_session, v_seq, p_type, v_json, p_node);
  PERFORM pg_notify('agentd_events', p_node || ' ' || v_id);
  RETURN QUERY SELECT v_id, p_session, v_seq, p_type, v_json;
END
$fn$;
`,
  // 2: a batch of events per call (one round trip for what the event log gathered), and custom plans:
  // a generic plan of `id > $after` scans the whole table once it has grown.
  `
ALTER FUNCTION agentd_append(BIGINT, BIGINT, TEXT, TEXT, TEXT, TEXT) SET plan_cache_mode = force_custom_plan;
CREATE FUNCTION agentd_append_batch(p_node BIGINT, p_after BIGINT, p_sessions TEXT[], p_types TEXT[], p_times TEXT[], p_datas TEXT[])
RETURNS TABLE (id BIGINT, session_id TEXT, seq BIGINT, type TEXT, json TEXT) LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $fn$
#variable_conflict use_column
DECLARE v_id BIGINT; v_seq BIGINT; v_json TEXT;
BEGIN
  PERFORM pg_advisory_xact_lock(${EVENT_LOCK});
  RETURN QUERY SELECT e.id, e.session_id::text, e.seq, e.type, e.json FROM events e WHERE e.id > p_after AND e.node <> p_node ORDER BY e.id;
  FOR i IN 1 .. coalesce(array_length(p_types, 1), 0) LOOP
    v_id := nextval('event_ids');
    IF p_sessions[i] IS NULL THEN
      v_seq := v_id;
    ELSE
      INSERT INTO session_seqs AS s (session_id, seq) VALUES (p_sessions[i], 1)
        ON CONFLICT (session_id) DO UPDATE SET seq = s.seq + 1 RETURNING s.seq INTO v_seq;
    END IF;
    v_json := format('{"id":%s,"sessionId":%s,"seq":%s,"type":%s,"time":%s,"data":%s}',
      v_id, coalesce(to_json(p_sessions[i])::text, 'null'), v_seq, to_json(p_types[i])::text, to_json(p_times[i])::text, p_datas[i]);
    INSERT INTO events (id, session_id, seq, type, json, node) VALUES (v_id, p_sessions[i], v_seq, p_types[i], v_json, p_node);
    RETURN QUERY SELECT v_id, p_sessions[i], v_seq, p_types[i], v_json;
  END LOOP;
  IF v_id IS NOT NULL THEN
    PERFORM pg_notify('agentd_events', p_node || ' ' || v_id);
  END IF;
END
$fn$;
`,
  // 3: recovery's sweep (every lease/3 on every node) reads only the running sessions.
  `CREATE INDEX sessions_running ON sessions (status) WHERE status = 'running';`,
  // 4: a node's machine and pid namespace (server/store/liveness.ts): a dead node of the same machine is known at once.
  `ALTER TABLE nodes ADD COLUMN machine TEXT;`,
];
