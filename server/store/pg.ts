/**
 * PostgreSQL store (node-postgres): several agentd nodes on one database. The queries run in a
 * worker thread (server/store/pg-worker.ts) and the main thread waits for each answer
 * (Atomics.wait), so this store implements the same synchronous Store interface as SQLite.
 * A call costs one database round trip; events are appended one statement each (agentd_append,
 * server/store/pg-schema.ts), which assigns their ids and seqs in the database.
 *
 * Shared through the database: sessions, messages, events, the kv table (idempotency records,
 * API keys), turn claims (an atomic UPDATE: one turn per session across all nodes) and node
 * leases (`nodes.heartbeat`, renewed by the worker every lease/3).
 */
import { Worker, MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import type { Message } from '../../protocol/index.js';
import type { Cluster, ClusterCommand, SessionKey, SessionRecord, StoredEvent, Store } from './store.js';
import type { PgCall, PgNotice, PgReply } from './pg-worker.js';

const WORKER_URL = new URL(`./pg-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);

/** How long one call may take before the store gives up on the database. */
const CALL_TIMEOUT_MS = 30_000;

/** Rows a name search looks at per page before it gives up the page short (as the SQLite store). */
const SEARCH_SCAN = 100_000;

/** Bytes of a NOTIFY payload PostgreSQL accepts (8000); commands are far smaller. */
const MAX_COMMAND = 7900;

interface SessionRow { json: string; status: string; active_turn_id: string | null; owner_pid: number | null; updated_at: string }
const SESSION_COLS = 'json, status, active_turn_id, owner_pid, updated_at';
const EVENT_COLS = 'id, session_id AS "sessionId", seq, type, json';

interface PgStoreOptions {
  /** postgres://user@host:port/db (anything node-postgres accepts). */
  url: string;
  /** A node whose heartbeat is older than this is dead: its turns are recovered (ms). */
  leaseMs: number;
  /** Problems of the connections in the background (a lost connection, a failed heartbeat). */
  onError?: (message: string) => void;
}

export class PgStore implements Store, Cluster {
  readonly cluster: Cluster = this;
  readonly nodeId: number;
  readonly leaseMs: number;
  private worker: Worker;
  private flag = new Int32Array(new SharedArrayBuffer(4));
  private port;
  private closed = false;
  private eventFns: Array<(throughId: number) => void> = [];
  private commandFns: Array<(body: ClusterCommand) => void> = [];

  constructor(private opts: PgStoreOptions) {
    this.leaseMs = opts.leaseMs;
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(WORKER_URL, { workerData: { url: opts.url, flag: this.flag, port: port2, leaseMs: opts.leaseMs }, transferList: [port2] });
    this.worker.unref();
    this.worker.on('message', (n: PgNotice) => this.notice(n));
    this.worker.on('error', (err) => opts.onError?.(`store worker: ${String(err)}`));
    try {
      this.nodeId = this.call({ op: 'init' }) as number;
    } catch (err) {
      void this.worker.terminate();
      throw err;
    }
  }

  private notice(n: PgNotice) {
    if (n.channel === 'error') return this.opts.onError?.(n.payload);
    if (this.closed) return;
    if (n.channel === 'agentd_events') {
      const [node, id] = n.payload.split(' ').map(Number);
      if (node !== this.nodeId) for (const fn of this.eventFns) fn(id);
    } else if (n.channel === 'agentd_commands') {
      const at = n.payload.indexOf(' ');
      const to = Number(n.payload.slice(0, at));
      if (to !== this.nodeId && to !== 0) return;
      let body: ClusterCommand;
      try { body = JSON.parse(n.payload.slice(at + 1)) as ClusterCommand; } catch { return; }
      for (const fn of this.commandFns) fn(body);
    }
  }

  /** One synchronous round trip to the worker. */
  private call(c: PgCall): unknown {
    if (this.closed && c.op !== 'close') throw new Error('store closed');
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage(c);
    if (Atomics.wait(this.flag, 0, 0, CALL_TIMEOUT_MS) === 'timed-out') throw new Error(`database call timed out after ${CALL_TIMEOUT_MS} ms`);
    const reply = receiveMessageOnPort(this.port)?.message as PgReply | undefined;
    if (!reply) throw new Error('database call: no reply');
    if ('err' in reply) throw Object.assign(new Error(reply.err), { code: reply.code });
    return reply.ok;
  }

  private q<T>(sql: string, ...params: unknown[]): T[] {
    return this.call({ op: 'query', sql, params }) as T[];
  }

  private one<T>(sql: string, ...params: unknown[]): T | undefined { return this.q<T>(sql, ...params)[0]; }

  private tx<T>(fn: () => T): T {
    this.call({ op: 'begin' });
    try {
      const r = fn();
      this.call({ op: 'commit' });
      return r;
    } catch (err) {
      this.call({ op: 'rollback' });
      throw err;
    }
  }

  private row(r: SessionRow | undefined): SessionRecord | undefined {
    if (!r) return undefined;
    const s = JSON.parse(r.json) as SessionRecord;
    s.status = r.status as SessionRecord['status'];
    s.activeTurnId = r.active_turn_id;
    s.ownerPid = r.owner_pid;
    s.updatedAt = r.updated_at;
    return s;
  }

  private json(s: SessionRecord): string {
    const { status: _s, activeTurnId: _a, ownerPid: _o, ...rest } = s;
    return JSON.stringify(rest);
  }

  // Cluster
  ownerAlive(owner: number | null | undefined) {
    if (!owner) return false;
    return this.one<{ ok: boolean }>('SELECT heartbeat > now() - make_interval(secs => $2::double precision / 1000) AS ok FROM nodes WHERE id = $1', owner, this.leaseMs)?.ok === true;
  }
  append(after: number, sessionId: string | null, type: string, time: string, data: string) {
    return this.q<StoredEvent>(`SELECT ${EVENT_COLS} FROM agentd_append($1, $2, $3, $4, $5, $6)`, this.nodeId, after, sessionId, type, time, data);
  }
  onEvents(fn: (throughId: number) => void) { this.eventFns.push(fn); }
  command(node: number, body: ClusterCommand) {
    const payload = `${node} ${JSON.stringify(body)}`;
    if (Buffer.byteLength(payload) > MAX_COMMAND) throw new Error('command too large');
    this.q("SELECT pg_notify('agentd_commands', $1)", payload);
  }
  onCommand(fn: (body: ClusterCommand) => void) { this.commandFns.push(fn); }

  // Store
  insertSession(s: SessionRecord) {
    this.q('INSERT INTO sessions (id, json, status, active_turn_id, owner_pid, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      s.id, this.json(s), s.status, s.activeTurnId ?? null, s.ownerPid ?? null, s.createdAt, s.updatedAt);
  }
  getSession(id: string) { return this.row(this.one<SessionRow>(`SELECT ${SESSION_COLS} FROM sessions WHERE id = $1`, id)); }
  listSessions() { return this.q<SessionRow>(`SELECT ${SESSION_COLS} FROM sessions ORDER BY created_at DESC, id DESC`).map((r) => this.row(r)!); }
  pageSessions(limit: number, after?: SessionKey, search?: string) {
    const where = after ? 'WHERE (updated_at, id) < ($1, $2)' : 'WHERE $1::text IS NULL AND $2::text IS NULL';
    const args = after ? [after.updatedAt, after.id] : [null, null];
    const keyOf = (s: SessionRecord): SessionKey => ({ updatedAt: s.updatedAt, id: s.id });
    if (search === undefined) {
      const rows = this.q<SessionRow>(`SELECT ${SESSION_COLS} FROM sessions ${where} ORDER BY updated_at DESC, id DESC LIMIT $3`, ...args, limit + 1).map((r) => this.row(r)!);
      const sessions = rows.slice(0, limit);
      return { sessions, next: rows.length > limit ? keyOf(sessions[sessions.length - 1]) : null };
    }
    const needle = search.toLowerCase();
    const sessions: SessionRecord[] = [];
    const rows = this.q<SessionRow & { id: string; name: string | null }>(
      `SELECT id, json::json->>'name' AS name, ${SESSION_COLS} FROM sessions ${where} ORDER BY updated_at DESC, id DESC LIMIT $3`, ...args, SEARCH_SCAN);
    for (const r of rows) {
      if (typeof r.name !== 'string' || !r.name.toLowerCase().includes(needle)) continue;
      if (sessions.length === limit) return { sessions, next: keyOf(sessions[limit - 1]) };
      sessions.push(this.row(r)!);
    }
    const last = rows[rows.length - 1];
    return { sessions, next: rows.length === SEARCH_SCAN && last ? { updatedAt: last.updated_at, id: last.id } : null };
  }
  updateSession(s: SessionRecord) {
    this.q('UPDATE sessions SET json = $1, status = $2, active_turn_id = $3, owner_pid = $4, updated_at = $5 WHERE id = $6',
      this.json(s), s.status, s.activeTurnId ?? null, s.ownerPid ?? null, s.updatedAt, s.id);
  }
  patchSession(id: string, fn: (s: SessionRecord) => SessionRecord | undefined) {
    return this.tx(() => {
      const cur = this.row(this.one<SessionRow>(`SELECT ${SESSION_COLS} FROM sessions WHERE id = $1 FOR UPDATE`, id));
      const next = cur && fn(cur);
      if (next) this.updateSession(next);
      return next ?? cur;
    });
  }
  claimTurn(sessionId: string, turnId: string, ownerPid: number, updatedAt: string) {
    return this.q("UPDATE sessions SET status = 'running', active_turn_id = $1, owner_pid = $2, updated_at = $3 WHERE id = $4 AND status = 'idle' RETURNING id",
      turnId, ownerPid, updatedAt, sessionId).length === 1;
  }
  takeOverTurn(sessionId: string, turnId: string, oldOwnerPid: number | null, newOwnerPid: number) {
    return this.q("UPDATE sessions SET owner_pid = $1 WHERE id = $2 AND status = 'running' AND active_turn_id = $3 AND owner_pid IS NOT DISTINCT FROM $4 RETURNING id",
      newOwnerPid, sessionId, turnId, oldOwnerPid).length === 1;
  }
  releaseTurn(sessionId: string, turnId: string, updatedAt: string) {
    this.q("UPDATE sessions SET status = 'idle', active_turn_id = NULL, owner_pid = NULL, updated_at = $1 WHERE id = $2 AND active_turn_id = $3", updatedAt, sessionId, turnId);
  }
  deleteSession(id: string) {
    return this.tx(() => {
      this.q("DELETE FROM events WHERE session_id = $1 AND type <> 'session.deleted'", id);
      return this.q('DELETE FROM sessions WHERE id = $1 RETURNING id', id).length === 1;
    });
  }

  putMessage(m: Message) {
    this.q('INSERT INTO messages (id, session_id, json) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET json = excluded.json', m.id, m.sessionId, JSON.stringify(m));
  }
  listMessages(sessionId: string) {
    return this.q<{ json: string }>('SELECT json FROM messages WHERE session_id = $1 ORDER BY ord', sessionId).map((r) => JSON.parse(r.json) as Message);
  }
  private ordOf(id: string, sessionId: string) { return this.one<{ ord: number }>('SELECT ord FROM messages WHERE id = $1 AND session_id = $2', id, sessionId)?.ord; }
  pageMessages(sessionId: string, limit: number, before?: string) {
    let rows: Array<{ json: string }>;
    if (before === undefined) rows = this.q('SELECT json FROM messages WHERE session_id = $1 ORDER BY ord DESC LIMIT $2', sessionId, limit);
    else {
      const at = this.ordOf(before, sessionId);
      if (at === undefined) return undefined;
      rows = this.q('SELECT json FROM messages WHERE session_id = $1 AND ord < $2 ORDER BY ord DESC LIMIT $3', sessionId, at, limit);
    }
    return rows.map((r) => JSON.parse(r.json) as Message);
  }
  messagesThrough(sessionId: string, through?: string) {
    if (through === undefined) return this.listMessages(sessionId);
    const at = this.ordOf(through, sessionId);
    return at === undefined ? undefined
      : this.q<{ json: string }>('SELECT json FROM messages WHERE session_id = $1 AND ord <= $2 ORDER BY ord', sessionId, at).map((r) => JSON.parse(r.json) as Message);
  }
  insertSessionWithMessages(s: SessionRecord, messages: Message[]) {
    this.tx(() => {
      this.insertSession(s);
      for (const m of messages) this.putMessage(m);
    });
  }

  /** Events come in through `append` (agentd_append); this inserts rows as they are (a batch in one statement). */
  appendEvents(events: StoredEvent[]) {
    if (!events.length) return;
    const params: unknown[] = [];
    const values = events.map((e, i) => {
      params.push(e.id, e.sessionId, e.seq, e.type, e.json, this.nodeId);
      const k = i * 6;
      return `($${k + 1}, $${k + 2}, $${k + 3}, $${k + 4}, $${k + 5}, $${k + 6})`;
    });
    this.q(`INSERT INTO events (id, session_id, seq, type, json, node) VALUES ${values.join(', ')}`, ...params);
  }
  eventsSince(sessionId: string | null, since: number, limit: number) {
    return sessionId === null
      ? this.q<StoredEvent>(`SELECT ${EVENT_COLS} FROM events WHERE id > $1 ORDER BY id LIMIT $2`, since, limit)
      : this.q<StoredEvent>(`SELECT ${EVENT_COLS} FROM events WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, sessionId, since, limit);
  }
  oldestRetained(sessionId: string | null) {
    return (sessionId === null
      ? this.one<{ v: number | null }>('SELECT MIN(id) AS v FROM events')?.v
      : this.one<{ v: number | null }>('SELECT MIN(seq) AS v FROM events WHERE session_id = $1', sessionId)?.v) ?? 0;
  }
  maxSeq(sessionId: string) { return this.one<{ v: number | null }>('SELECT MAX(seq) AS v FROM events WHERE session_id = $1', sessionId)?.v ?? 0; }
  maxEventId() { return this.one<{ v: number | null }>('SELECT MAX(id) AS v FROM events')?.v ?? 0; }
  reserveEventIds(count: number) {
    // Not used by the event log on this store (agentd_append takes ids one by one); kept for the interface.
    const r = this.one<{ first: number }>("SELECT nextval('event_ids') AS first");
    this.q("SELECT setval('event_ids', $1)", r!.first + count - 1);
    return r!.first;
  }
  pruneEvents(sessionId: string, keep: number) {
    const max = this.maxSeq(sessionId);
    if (max <= keep) return;
    this.tx(() => {
      const maxId = this.one<{ v: number | null }>('SELECT MAX(id) AS v FROM events WHERE session_id = $1 AND seq <= $2', sessionId, max - keep)?.v;
      if (maxId === null || maxId === undefined) return;
      this.q('DELETE FROM events WHERE session_id = $1 AND seq <= $2', sessionId, max - keep);
      this.q(`INSERT INTO meta (key, value) VALUES ('pruned_through_id', $1) ON CONFLICT (key)
        DO UPDATE SET value = GREATEST(meta.value::bigint, excluded.value::bigint)::text`, String(maxId));
    });
  }
  prunedThroughId() { return Number(this.one<{ value: string }>("SELECT value FROM meta WHERE key = 'pruned_through_id'")?.value ?? 0); }

  kvGet(ns: string, key: string) { return this.one<{ value: string }>('SELECT value FROM kv WHERE ns = $1 AND key = $2', ns, key)?.value; }
  kvSet(ns: string, key: string, value: string) {
    this.q('INSERT INTO kv (ns, key, value) VALUES ($1, $2, $3) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value', ns, key, value);
  }
  kvInsert(ns: string, key: string, value: string) {
    return this.q('INSERT INTO kv (ns, key, value) VALUES ($1, $2, $3) ON CONFLICT (ns, key) DO NOTHING RETURNING 1 AS won', ns, key, value).length === 1;
  }
  kvDelete(ns: string, key: string) { this.q('DELETE FROM kv WHERE ns = $1 AND key = $2', ns, key); }
  kvList(ns: string) { return this.q<{ key: string; value: string }>('SELECT key, value FROM kv WHERE ns = $1 ORDER BY key', ns); }

  close() {
    if (this.closed) return;
    try { this.call({ op: 'close' }); } catch { /* the database may be gone already */ }
    this.closed = true;
    void this.worker.terminate();
  }
}
