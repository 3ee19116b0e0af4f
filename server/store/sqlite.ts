/**
 * SQLite store (better-sqlite3, WAL). Its calls complete synchronously underneath; the interface
 * is asynchronous because the PostgreSQL store's are not. Safe for two processes on one data directory:
 * SQLite serializes writers, global event ids are reserved in blocks per process, and a
 * session runs one turn at a time across processes through claimTurn's atomic update.
 */
import Database, { type Transaction } from 'better-sqlite3';
import type { Message } from '../../protocol/index.js';
import { sessionFromRow, sessionJson, type SessionKey, type SessionRecord, type StoredEvent, type Store, type SessionRow } from './store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, json TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'idle',
  active_turn_id TEXT, owner_pid INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE, json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_session ON messages(session_id);
CREATE INDEX IF NOT EXISTS sessions_updated ON sessions(updated_at, id);
CREATE INDEX IF NOT EXISTS sessions_running ON sessions(status) WHERE status = 'running';
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, session_id TEXT, seq INTEGER NOT NULL, type TEXT NOT NULL, json TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_session_seq ON events(session_id, seq);
CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (ns, key));
`;

/** Rows per multi-row event INSERT. */
const EVENT_ROWS = 64;

/** Rows a name search looks at per page before it gives up the page short (bounds a search of many sessions). */
const SEARCH_SCAN = 100_000;


export class SqliteStore implements Store {
  private db: Database.Database;
  private stmts;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    const db = this.db;
    this.stmts = {
      insertSession: db.prepare('INSERT INTO sessions (id, json, status, active_turn_id, owner_pid, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      getSession: db.prepare<[string], SessionRow>('SELECT json, status, active_turn_id, owner_pid, updated_at FROM sessions WHERE id = ?'),
      runningSessions: db.prepare<[], SessionRow>("SELECT json, status, active_turn_id, owner_pid, updated_at FROM sessions WHERE status = 'running' ORDER BY created_at DESC, id DESC"),
      pageSessions: db.prepare<[string, string, number], SessionRow>('SELECT json, status, active_turn_id, owner_pid, updated_at FROM sessions WHERE (updated_at, id) < (?, ?) ORDER BY updated_at DESC, id DESC LIMIT ?'),
      scanSessions: db.prepare<[string, string, number], SessionRow & { id: string; name: string | null }>("SELECT id, json_extract(json, '$.name') AS name, json, status, active_turn_id, owner_pid, updated_at FROM sessions WHERE (updated_at, id) < (?, ?) ORDER BY updated_at DESC, id DESC LIMIT ?"),
      updateSession: db.prepare('UPDATE sessions SET json = ?, status = ?, active_turn_id = ?, owner_pid = ?, updated_at = ? WHERE id = ?'),
      claimTurn: db.prepare("UPDATE sessions SET status = 'running', active_turn_id = ?, owner_pid = ?, updated_at = ? WHERE id = ? AND status = 'idle'"),
      releaseTurn: db.prepare("UPDATE sessions SET status = 'idle', active_turn_id = NULL, owner_pid = NULL, updated_at = ? WHERE id = ? AND active_turn_id = ?"),
      takeOverTurn: db.prepare("UPDATE sessions SET owner_pid = ? WHERE id = ? AND status = 'running' AND active_turn_id = ? AND owner_pid IS ?"),
      deleteSession: db.prepare('DELETE FROM sessions WHERE id = ?'),
      deleteSessionEvents: db.prepare("DELETE FROM events WHERE session_id = ? AND type != 'session.deleted'"),
      putMessage: db.prepare('INSERT INTO messages (id, session_id, json) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET json = excluded.json'),
      listMessages: db.prepare<[string], { json: string }>('SELECT json FROM messages WHERE session_id = ? ORDER BY rowid'),
      messageRowid: db.prepare<[string, string], { r: number }>('SELECT rowid AS r FROM messages WHERE id = ? AND session_id = ?'),
      newestMessages: db.prepare<[string, number], { json: string }>('SELECT json FROM messages WHERE session_id = ? ORDER BY rowid DESC LIMIT ?'),
      messagesBefore: db.prepare<[string, number, number], { json: string }>('SELECT json FROM messages WHERE session_id = ? AND rowid < ? ORDER BY rowid DESC LIMIT ?'),
      messagesThrough: db.prepare<[string, number], { json: string }>('SELECT json FROM messages WHERE session_id = ? AND rowid <= ? ORDER BY rowid'),
      insertEvent: db.prepare('INSERT INTO events (id, session_id, seq, type, json) VALUES (?, ?, ?, ?, ?)'),
      sessionEventsSince: db.prepare<[string, number, number], StoredEvent>('SELECT id, session_id AS sessionId, seq, type, json FROM events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
      allEventsSince: db.prepare<[number, number], StoredEvent>('SELECT id, session_id AS sessionId, seq, type, json FROM events WHERE id > ? ORDER BY id LIMIT ?'),
      oldestSession: db.prepare<[string], { v: number | null }>('SELECT MIN(seq) AS v FROM events WHERE session_id = ?'),
      oldestAll: db.prepare<[], { v: number | null }>('SELECT MIN(id) AS v FROM events'),
      maxSeq: db.prepare<[string], { v: number | null }>('SELECT MAX(seq) AS v FROM events WHERE session_id = ?'),
      maxId: db.prepare<[], { v: number | null }>('SELECT MAX(id) AS v FROM events'),
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      prune: db.prepare('DELETE FROM events WHERE session_id = ? AND seq <= ?'),
      maxIdUpTo: db.prepare<[string, number], { v: number | null }>('SELECT MAX(id) AS v FROM events WHERE session_id = ? AND seq <= ?'),
      kvGet: db.prepare<[string, string], { value: string }>('SELECT value FROM kv WHERE ns = ? AND key = ?'),
      kvSet: db.prepare('INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT(ns, key) DO UPDATE SET value = excluded.value'),
      kvInsert: db.prepare('INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT(ns, key) DO NOTHING'),
      kvDelete: db.prepare('DELETE FROM kv WHERE ns = ? AND key = ?'),
      kvList: db.prepare<[string], { key: string; value: string }>('SELECT key, value FROM kv WHERE ns = ? ORDER BY key'),
    };
    // Events go in as multi-row INSERTs: one statement per EVENT_ROWS events costs far fewer
    // native calls than one per event (the event log's persistence is on the delivery thread).
    const insertMany = db.prepare(`INSERT INTO events (id, session_id, seq, type, json) VALUES ${Array(EVENT_ROWS).fill('(?, ?, ?, ?, ?)').join(', ')}`);
    const args: unknown[] = new Array(EVENT_ROWS * 5);
    this.appendTx = this.db.transaction((events: StoredEvent[]) => {
      let i = 0;
      for (; i + EVENT_ROWS <= events.length; i += EVENT_ROWS) {
        for (let j = 0; j < EVENT_ROWS; j++) {
          const e = events[i + j];
          const k = j * 5;
          args[k] = e.id; args[k + 1] = e.sessionId; args[k + 2] = e.seq; args[k + 3] = e.type; args[k + 4] = e.json;
        }
        insertMany.run(args);
      }
      for (; i < events.length; i++) {
        const e = events[i];
        this.stmts.insertEvent.run(e.id, e.sessionId, e.seq, e.type, e.json);
      }
    });
    this.pruneTx = this.db.transaction((sessionId: string, throughSeq: number) => {
      const maxId = this.stmts.maxIdUpTo.get(sessionId, throughSeq)?.v;
      if (maxId === null || maxId === undefined) return;
      this.stmts.prune.run(sessionId, throughSeq);
      if (maxId > Number(this.stmts.getMeta.get('pruned_through_id')?.value ?? 0)) this.stmts.setMeta.run('pruned_through_id', String(maxId));
    });
    this.reserveTx = this.db.transaction((count: number) => {
      const stored = Number(this.stmts.getMeta.get('next_event_id')?.value ?? 0);
      const first = Math.max(stored, (this.stmts.maxId.get()?.v ?? 0) + 1, 1);
      this.stmts.setMeta.run('next_event_id', String(first + count));
      return first;
    });
  }

  private appendTx: (events: StoredEvent[]) => void;
  // Read-then-write transactions start IMMEDIATE: a deferred one that reads first cannot wait for
  // another process's write lock (SQLite answers SQLITE_BUSY at once to avoid a deadlock).
  private pruneTx: Transaction<(sessionId: string, throughSeq: number) => void>;
  private reserveTx: Transaction<(count: number) => number>;

  private row(r: SessionRow | undefined): SessionRecord | undefined { return r && sessionFromRow(r); }
  private json(s: SessionRecord): string { return sessionJson(s); }

  async insertSession(s: SessionRecord) { this.insert(s); }
  private insert(s: SessionRecord) {
    this.stmts.insertSession.run(s.id, this.json(s), s.status, s.activeTurnId ?? null, s.ownerPid ?? null, s.createdAt, s.updatedAt);
  }
  async getSession(id: string) { return this.row(this.stmts.getSession.get(id)); }
  async runningSessions() { return this.stmts.runningSessions.all().map((r) => this.row(r)!); }
  async pageSessions(limit: number, after?: SessionKey, search?: string) {
    // '\uffff' sorts after every ISO timestamp: no cursor means from the newest.
    const [u, id] = after ? [after.updatedAt, after.id] : ['\uffff', ''];
    const keyOf = (s: SessionRecord): SessionKey => ({ updatedAt: s.updatedAt, id: s.id });
    if (search === undefined) {
      const rows = this.stmts.pageSessions.all(u, id, limit + 1).map((r) => this.row(r)!);
      const sessions = rows.slice(0, limit);
      return { sessions, next: rows.length > limit ? keyOf(sessions[sessions.length - 1]) : null };
    }
    // Case-insensitive on the whole of Unicode (SQLite's lower() knows only ASCII), so matched here.
    const needle = search.toLowerCase();
    const sessions: SessionRecord[] = [];
    let last: SessionKey | undefined;
    let scanned = 0;
    for (const r of this.stmts.scanSessions.iterate(u, id, SEARCH_SCAN)) {
      scanned++;
      last = { updatedAt: r.updated_at, id: r.id };
      if (typeof r.name !== 'string' || !r.name.toLowerCase().includes(needle)) continue;
      if (sessions.length === limit) return { sessions, next: keyOf(sessions[limit - 1]) };
      sessions.push(this.row(r)!);
    }
    return { sessions, next: scanned === SEARCH_SCAN && last ? last : null };
  }
  async updateSession(s: SessionRecord) { this.update(s); }
  private update(s: SessionRecord) {
    this.stmts.updateSession.run(this.json(s), s.status, s.activeTurnId ?? null, s.ownerPid ?? null, s.updatedAt, s.id);
  }
  async patchSession(id: string, fn: (s: SessionRecord) => SessionRecord | undefined) {
    return this.db.transaction(() => {
      const cur = this.row(this.stmts.getSession.get(id));
      const next = cur && fn(cur);
      if (next) this.update(next);
      return next ?? cur;
    }).immediate();
  }
  async claimTurn(sessionId: string, turnId: string, ownerPid: number, updatedAt: string) {
    return this.stmts.claimTurn.run(turnId, ownerPid, updatedAt, sessionId).changes === 1;
  }
  async takeOverTurn(sessionId: string, turnId: string, oldOwnerPid: number | null, newOwnerPid: number) {
    return this.stmts.takeOverTurn.run(newOwnerPid, sessionId, turnId, oldOwnerPid).changes === 1;
  }
  async releaseTurn(sessionId: string, turnId: string, updatedAt: string) { this.stmts.releaseTurn.run(updatedAt, sessionId, turnId); }
  async deleteSession(id: string) {
    return this.db.transaction(() => {
      this.stmts.deleteSessionEvents.run(id);
      return this.stmts.deleteSession.run(id).changes === 1;
    })();
  }

  async putMessage(m: Message) { this.stmts.putMessage.run(m.id, m.sessionId, JSON.stringify(m)); }
  async listMessages(sessionId: string) { return this.stmts.listMessages.all(sessionId).map((r) => JSON.parse(r.json) as Message); }
  async pageMessages(sessionId: string, limit: number, before?: string) {
    let rows: Array<{ json: string }>;
    if (before === undefined) rows = this.stmts.newestMessages.all(sessionId, limit);
    else {
      const at = this.stmts.messageRowid.get(before, sessionId);
      if (!at) return undefined;
      rows = this.stmts.messagesBefore.all(sessionId, at.r, limit);
    }
    return rows.map((r) => JSON.parse(r.json) as Message);
  }
  async messagesThrough(sessionId: string, through?: string) {
    if (through === undefined) return this.stmts.listMessages.all(sessionId).map((r) => JSON.parse(r.json) as Message);
    const at = this.stmts.messageRowid.get(through, sessionId);
    return at ? this.stmts.messagesThrough.all(sessionId, at.r).map((r) => JSON.parse(r.json) as Message) : undefined;
  }
  async insertSessionWithMessages(s: SessionRecord, messages: Message[]) {
    this.db.transaction(() => {
      this.insert(s);
      for (const m of messages) this.stmts.putMessage.run(m.id, m.sessionId, JSON.stringify(m));
    })();
  }
  /** The query plans of the paging statements (bench and tests check they use an index). */
  explainPaging(): string[] {
    return [
      this.db.prepare("EXPLAIN QUERY PLAN SELECT json FROM messages WHERE session_id = 'x' AND rowid < 5 ORDER BY rowid DESC LIMIT 50").all(),
      this.db.prepare("EXPLAIN QUERY PLAN SELECT json FROM sessions WHERE (updated_at, id) < ('a', 'b') ORDER BY updated_at DESC, id DESC LIMIT 100").all(),
    ].map((rows) => (rows as Array<{ detail: string }>).map((r) => r.detail).join('; '));
  }

  async appendEvents(events: StoredEvent[]) { if (events.length) this.appendTx(events); }
  async eventsSince(sessionId: string | null, since: number, limit: number) {
    return sessionId === null ? this.stmts.allEventsSince.all(since, limit) : this.stmts.sessionEventsSince.all(sessionId, since, limit);
  }
  async oldestRetained(sessionId: string | null) {
    return (sessionId === null ? this.stmts.oldestAll.get()?.v : this.stmts.oldestSession.get(sessionId)?.v) ?? 0;
  }
  async maxSeq(sessionId: string) { return this.stmts.maxSeq.get(sessionId)?.v ?? 0; }
  async maxEventId() { return this.stmts.maxId.get()?.v ?? 0; }
  async reserveEventIds(count: number) { return this.reserveTx.immediate(count); }
  async pruneEvents(sessionId: string, keep: number) {
    const max = this.stmts.maxSeq.get(sessionId)?.v ?? 0;
    if (max > keep) this.pruneTx.immediate(sessionId, max - keep);
  }
  async prunedThroughId() { return Number(this.stmts.getMeta.get('pruned_through_id')?.value ?? 0); }

  async kvGet(ns: string, key: string) { return this.stmts.kvGet.get(ns, key)?.value; }
  async kvSet(ns: string, key: string, value: string) { this.stmts.kvSet.run(ns, key, value); }
  async kvInsert(ns: string, key: string, value: string) { return this.stmts.kvInsert.run(ns, key, value).changes === 1; }
  async kvDelete(ns: string, key: string) { this.stmts.kvDelete.run(ns, key); }
  async kvList(ns: string) { return this.stmts.kvList.all(ns); }

  async close() { if (this.db.open) this.db.close(); }
}
