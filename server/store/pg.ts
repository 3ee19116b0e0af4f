/**
 * PostgreSQL store (node-postgres): several agentd nodes on one database, its queries on the main
 * thread through a small pool (every call a promise; a transaction holds one pooled connection).
 * Events are appended a batch per statement (agentd_append_batch, server/store/pg-schema.ts), which
 * assigns their ids and seqs in the database.
 *
 * Shared through the database: sessions, messages, events, the kv table (idempotency records,
 * API keys, config, permission answers), turn claims (an atomic UPDATE: one turn per session across
 * all nodes) and node leases (`nodes.heartbeat`, renewed every lease/3). A separate connection
 * LISTENs for other nodes' events and commands.
 */
import pg from 'pg';
import type { Message } from '../../protocol/index.js';
import { machineId, pidAlive } from './liveness.js';
import { MIGRATIONS, MIGRATE_LOCK } from './pg-schema.js';
import { sessionFromRow, sessionJson, StoreUnavailableError, type Cluster, type ClusterCommand, type NewEvent, type SessionKey, type SessionRecord, type StoredEvent, type Store, type SessionRow } from './store.js';

// int8 (event ids, seqs, node ids) as JS numbers: they stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

/** How long one query may take before the store gives up on the database. */
const QUERY_TIMEOUT_MS = 30_000;

/** Connections of the pool (queries of concurrent requests, transactions). */
const POOL_SIZE = 8;

/** Rows a name search looks at per page before it gives up the page short (as the SQLite store). */
const SEARCH_SCAN = 100_000;

/** Bytes of a NOTIFY payload PostgreSQL accepts (8000); commands are far smaller. */
const MAX_COMMAND = 7900;

/** This process's machine and pid namespace (server/store/liveness.ts). */
const MACHINE = machineId();

/**
 * PostgreSQL text cannot hold U+0000 (SQLite's can, and a client may send it in an id or key): in a
 * parameter it becomes U+FFFF, so such a key finds nothing, or what was stored under it, instead of
 * failing the query. Stored JSON never holds one raw (JSON.stringify escapes it).
 */
function textParams(params: unknown[]): unknown[] {
  const fix = (v: unknown) => (typeof v === 'string' && v.includes('\0') ? v.replaceAll('\0', '\uffff') : v);
  return params.map((p) => (Array.isArray(p) ? p.map(fix) : fix(p)));
}

/**
 * Whether a node-postgres error means the database could not be reached rather than a failed
 * statement: socket errors, SQLSTATE class 08 (connection exception), 57P01-57P03 (shut down,
 * starting up), 53300 (too many connections), and the pool's own connect timeout or lost connection.
 */
function unreachable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)$/.test(code)) return true;
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  return /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error)/.test(message);
}

/** Rethrows a lost database as StoreUnavailableError (the client's StoreUnavailable); anything else as it is. */
function rethrow(err: unknown): never {
  throw !(err instanceof StoreUnavailableError) && unreachable(err) ? new StoreUnavailableError(err) : err;
}

const SESSION_COLS = 'json, status, active_turn_id, owner_pid, updated_at';
const EVENT_COLS = 'id, session_id AS "sessionId", seq, type, json';

interface PgStoreOptions {
  /** postgres://user@host:port/db (anything node-postgres accepts). */
  url: string;
  /** A node whose heartbeat is older than this is dead: its turns are recovered (ms). */
  leaseMs: number;
  /** Problems of the connections in the background (a lost connection, a failed heartbeat); `warn` when one is over. */
  onError?: (message: string, level?: 'error' | 'warn') => void;
}

type Query = <T>(sql: string, ...params: unknown[]) => Promise<T[]>;

export class PgStore implements Store, Cluster {
  readonly cluster: Cluster = this;
  readonly leaseMs: number;
  private closed = false;
  private timer?: NodeJS.Timeout;
  private eventFns: Array<(throughId: number) => void> = [];
  private commandFns: Array<(body: ClusterCommand) => void> = [];

  /** Reconnect attempts of the LISTEN connection in a row (the pause grows with them). */
  private listenFailures = 0;

  private constructor(private opts: PgStoreOptions, private pool: pg.Pool, private listener: pg.Client, readonly nodeId: number) {
    this.leaseMs = opts.leaseMs;
  }

  /** The connection that LISTENs (a dedicated one: pooled connections come and go). */
  private static listenClient(url: string): pg.Client {
    return new pg.Client({ connectionString: url, application_name: 'agentd listen', keepAlive: true });
  }

  /**
   * Watches the LISTEN connection: when it is lost (the database restarted, a backend terminated, the
   * network), a new one is opened with a growing pause and LISTENs again; then what other nodes
   * committed meanwhile is announced at once (the event log reads those rows), so a subscriber here
   * misses nothing. Commands sent while it was down (a cancel, an approval) are lost: their senders time out.
   */
  private watchListener(client: pg.Client) {
    let lost = false;
    const onLost = (why: string) => {
      if (lost || this.closed) return;
      lost = true;
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      this.opts.onError?.(`LISTEN connection lost (${why}): reconnecting`);
      const pause = Math.min(5000, 100 * 2 ** this.listenFailures++);
      setTimeout(() => void this.relisten(), pause).unref();
    };
    client.on('error', (err) => onLost(String(err)));
    client.on('end', () => onLost('closed'));
    client.on('notification', (m) => this.notice(m.channel, m.payload ?? ''));
  }

  private async relisten() {
    if (this.closed) return;
    const client = PgStore.listenClient(this.opts.url);
    client.on('error', () => {}); // until watched: a failed connect is retried below
    try {
      await client.connect();
      await client.query('LISTEN agentd_events');
      await client.query('LISTEN agentd_commands');
      if (this.closed) { await client.end(); return; }
    } catch (err) {
      client.end().catch(() => {});
      if (this.closed) return;
      this.opts.onError?.(`LISTEN reconnect failed: ${String(err)}`);
      setTimeout(() => void this.relisten(), Math.min(5000, 100 * 2 ** this.listenFailures++)).unref();
      return;
    }
    client.removeAllListeners('error');
    this.listener = client;
    this.watchListener(client);
    this.listenFailures = 0;
    this.opts.onError?.('LISTEN connection restored', 'warn');
    // What was committed while nobody listened: announced as if notified.
    try {
      const through = await this.maxEventId();
      for (const fn of this.eventFns) fn(through);
    } catch { /* the next notification or append catches up */ }
  }

  /** Connects, migrates (under an advisory lock: two nodes starting at once never race), registers this node and LISTENs. */
  static async open(opts: PgStoreOptions): Promise<PgStore> {
    const onError = (err: unknown) => opts.onError?.(String(err));
    const pool = new pg.Pool({ connectionString: opts.url, max: POOL_SIZE, query_timeout: QUERY_TIMEOUT_MS });
    pool.on('error', onError);
    const listener = PgStore.listenClient(opts.url);
    listener.on('error', onError);
    try {
      await listener.connect();
      await migrate(pool);
      const n = await pool.query<{ id: number }>('INSERT INTO nodes (pid, machine) VALUES ($1, $2) RETURNING id', [process.pid, MACHINE ?? null]);
      const store = new PgStore(opts, pool, listener, n.rows[0].id);
      await listener.query('LISTEN agentd_events');
      await listener.query('LISTEN agentd_commands');
      listener.removeListener('error', onError);
      store.watchListener(listener);
      store.timer = setInterval(() => {
        pool.query('UPDATE nodes SET heartbeat = now() WHERE id = $1', [store.nodeId]).catch((err) => opts.onError?.(`heartbeat: ${String(err)}`));
      }, Math.max(100, Math.floor(opts.leaseMs / 3)));
      store.timer.unref();
      return store;
    } catch (err) {
      await Promise.allSettled([pool.end(), listener.end()]);
      throw err;
    }
  }

  private notice(channel: string, payload: string) {
    if (this.closed) return;
    if (channel === 'agentd_events') {
      const [node, id] = payload.split(' ').map(Number);
      if (node !== this.nodeId) for (const fn of this.eventFns) fn(id);
    } else if (channel === 'agentd_commands') {
      const at = payload.indexOf(' ');
      const to = Number(payload.slice(0, at));
      if (to !== this.nodeId && to !== 0) return;
      let body: ClusterCommand;
      try { body = JSON.parse(payload.slice(at + 1)) as ClusterCommand; } catch { return; }
      for (const fn of this.commandFns) fn(body);
    }
  }

  private q: Query = async <T>(sql: string, ...params: unknown[]) => {
    if (this.closed) throw new Error('store closed');
    return (await this.pool.query(sql, textParams(params)).catch(rethrow)).rows as T[];
  };

  private async one<T>(sql: string, ...params: unknown[]): Promise<T | undefined> { return (await this.q<T>(sql, ...params))[0]; }

  /** Runs `fn` in one transaction on one pooled connection; `fn` gets that connection's query. */
  private async tx<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('store closed');
    const c = await this.pool.connect().catch(rethrow);
    let broken = false;
    const q: Query = async <R>(sql: string, ...params: unknown[]) => (await c.query(sql, textParams(params)).catch(rethrow)).rows as R[];
    try {
      await c.query('BEGIN');
      const r = await fn(q);
      await c.query('COMMIT');
      return r;
    } catch (err) {
      broken = unreachable(err) || err instanceof StoreUnavailableError;
      if (!broken) await c.query('ROLLBACK').catch(() => {});
      return rethrow(err);
    } finally {
      c.release(broken || undefined); // a lost connection leaves the pool
    }
  }

  private row(r: SessionRow | undefined): SessionRecord | undefined { return r && sessionFromRow(r); }
  private json(s: SessionRecord): string { return sessionJson(s); }

  // Cluster
  async ownerAlive(owner: number | null | undefined) {
    if (!owner) return false;
    if (owner === this.nodeId) return !this.closed;
    const r = await this.one<{ ok: boolean; pid: number | null; machine: string | null }>(
      'SELECT heartbeat > now() - make_interval(secs => $2::double precision / 1000) AS ok, pid, machine FROM nodes WHERE id = $1', owner, this.leaseMs);
    if (!r?.ok) return false;
    // A node of this machine's pid namespace: its pid tells at once (ours now: an earlier process).
    if (MACHINE !== undefined && r.machine === MACHINE) return r.pid !== process.pid && pidAlive(r.pid);
    return true;
  }
  append(after: number, events: NewEvent[]) {
    return this.q<StoredEvent>(`SELECT ${EVENT_COLS} FROM agentd_append_batch($1, $2, $3, $4, $5, $6)`, this.nodeId, after,
      events.map((e) => e.sessionId), events.map((e) => e.type), events.map((e) => e.time), events.map((e) => e.data));
  }
  onEvents(fn: (throughId: number) => void) { this.eventFns.push(fn); }
  async command(node: number, body: ClusterCommand) {
    const payload = `${node} ${JSON.stringify(body)}`;
    if (Buffer.byteLength(payload) > MAX_COMMAND) throw new Error('command too large');
    await this.q("SELECT pg_notify('agentd_commands', $1)", payload);
  }
  onCommand(fn: (body: ClusterCommand) => void) { this.commandFns.push(fn); }

  // Store
  async insertSession(s: SessionRecord, q: Query = this.q) {
    await q('INSERT INTO sessions (id, json, status, active_turn_id, owner_pid, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      s.id, this.json(s), s.status, s.activeTurnId ?? null, s.ownerPid ?? null, s.createdAt, s.updatedAt);
  }
  async getSession(id: string) { return this.row(await this.one<SessionRow>(`SELECT ${SESSION_COLS} FROM sessions WHERE id = $1`, id)); }
  async runningSessions() { return (await this.q<SessionRow>(`SELECT ${SESSION_COLS} FROM sessions WHERE status = 'running' ORDER BY created_at DESC, id DESC`)).map((r) => this.row(r)!); }
  async pageSessions(limit: number, after?: SessionKey, search?: string) {
    const where = after ? 'WHERE (updated_at, id) < ($1, $2)' : 'WHERE $1::text IS NULL AND $2::text IS NULL';
    const args = after ? [after.updatedAt, after.id] : [null, null];
    const keyOf = (s: SessionRecord): SessionKey => ({ updatedAt: s.updatedAt, id: s.id });
    if (search === undefined) {
      const rows = (await this.q<SessionRow>(`SELECT ${SESSION_COLS} FROM sessions ${where} ORDER BY updated_at DESC, id DESC LIMIT $3`, ...args, limit + 1)).map((r) => this.row(r)!);
      const sessions = rows.slice(0, limit);
      return { sessions, next: rows.length > limit ? keyOf(sessions[sessions.length - 1]) : null };
    }
    const needle = search.toLowerCase();
    const sessions: SessionRecord[] = [];
    const rows = await this.q<SessionRow & { id: string; name: string | null }>(
      `SELECT id, json::json->>'name' AS name, ${SESSION_COLS} FROM sessions ${where} ORDER BY updated_at DESC, id DESC LIMIT $3`, ...args, SEARCH_SCAN);
    for (const r of rows) {
      if (typeof r.name !== 'string' || !r.name.toLowerCase().includes(needle)) continue;
      if (sessions.length === limit) return { sessions, next: keyOf(sessions[limit - 1]) };
      sessions.push(this.row(r)!);
    }
    const last = rows[rows.length - 1];
    return { sessions, next: rows.length === SEARCH_SCAN && last ? { updatedAt: last.updated_at, id: last.id } : null };
  }
  async updateSession(s: SessionRecord, q: Query = this.q) {
    await q('UPDATE sessions SET json = $1, status = $2, active_turn_id = $3, owner_pid = $4, updated_at = $5 WHERE id = $6',
      this.json(s), s.status, s.activeTurnId ?? null, s.ownerPid ?? null, s.updatedAt, s.id);
  }
  patchSession(id: string, fn: (s: SessionRecord) => SessionRecord | undefined) {
    return this.tx(async (q) => {
      const cur = this.row((await q<SessionRow>(`SELECT ${SESSION_COLS} FROM sessions WHERE id = $1 FOR UPDATE`, id))[0]);
      const next = cur && fn(cur);
      if (next) await this.updateSession(next, q);
      return next ?? cur;
    });
  }
  async claimTurn(sessionId: string, turnId: string, ownerPid: number, updatedAt: string) {
    return (await this.q("UPDATE sessions SET status = 'running', active_turn_id = $1, owner_pid = $2, updated_at = $3 WHERE id = $4 AND status = 'idle' RETURNING id",
      turnId, ownerPid, updatedAt, sessionId)).length === 1;
  }
  async takeOverTurn(sessionId: string, turnId: string, oldOwnerPid: number | null, newOwnerPid: number) {
    return (await this.q("UPDATE sessions SET owner_pid = $1 WHERE id = $2 AND status = 'running' AND active_turn_id = $3 AND owner_pid IS NOT DISTINCT FROM $4 RETURNING id",
      newOwnerPid, sessionId, turnId, oldOwnerPid)).length === 1;
  }
  async releaseTurn(sessionId: string, turnId: string, updatedAt: string) {
    await this.q("UPDATE sessions SET status = 'idle', active_turn_id = NULL, owner_pid = NULL, updated_at = $1 WHERE id = $2 AND active_turn_id = $3", updatedAt, sessionId, turnId);
  }
  deleteSession(id: string) {
    return this.tx(async (q) => {
      await q("DELETE FROM events WHERE session_id = $1 AND type <> 'session.deleted'", id);
      return (await q('DELETE FROM sessions WHERE id = $1 RETURNING id', id)).length === 1;
    });
  }

  async putMessage(m: Message, q: Query = this.q) {
    await q('INSERT INTO messages (id, session_id, json) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET json = excluded.json', m.id, m.sessionId, JSON.stringify(m));
  }
  async listMessages(sessionId: string) {
    return (await this.q<{ json: string }>('SELECT json FROM messages WHERE session_id = $1 ORDER BY ord', sessionId)).map((r) => JSON.parse(r.json) as Message);
  }
  private async ordOf(id: string, sessionId: string) { return (await this.one<{ ord: number }>('SELECT ord FROM messages WHERE id = $1 AND session_id = $2', id, sessionId))?.ord; }
  async pageMessages(sessionId: string, limit: number, before?: string) {
    let rows: Array<{ json: string }>;
    if (before === undefined) rows = await this.q('SELECT json FROM messages WHERE session_id = $1 ORDER BY ord DESC LIMIT $2', sessionId, limit);
    else {
      const at = await this.ordOf(before, sessionId);
      if (at === undefined) return undefined;
      rows = await this.q('SELECT json FROM messages WHERE session_id = $1 AND ord < $2 ORDER BY ord DESC LIMIT $3', sessionId, at, limit);
    }
    return rows.map((r) => JSON.parse(r.json) as Message);
  }
  async messagesThrough(sessionId: string, through?: string) {
    if (through === undefined) return this.listMessages(sessionId);
    const at = await this.ordOf(through, sessionId);
    return at === undefined ? undefined
      : (await this.q<{ json: string }>('SELECT json FROM messages WHERE session_id = $1 AND ord <= $2 ORDER BY ord', sessionId, at)).map((r) => JSON.parse(r.json) as Message);
  }
  async insertSessionWithMessages(s: SessionRecord, messages: Message[]) {
    await this.tx(async (q) => {
      await this.insertSession(s, q);
      for (const m of messages) await this.putMessage(m, q);
    });
  }

  /** Events come in through `append` (agentd_append_batch); this inserts rows as they are (a batch in one statement). */
  async appendEvents(events: StoredEvent[]) {
    if (!events.length) return;
    const params: unknown[] = [];
    const values = events.map((e, i) => {
      params.push(e.id, e.sessionId, e.seq, e.type, e.json, this.nodeId);
      const k = i * 6;
      return `($${k + 1}, $${k + 2}, $${k + 3}, $${k + 4}, $${k + 5}, $${k + 6})`;
    });
    await this.q(`INSERT INTO events (id, session_id, seq, type, json, node) VALUES ${values.join(', ')}`, ...params);
  }
  eventsSince(sessionId: string | null, since: number, limit: number) {
    return sessionId === null
      ? this.q<StoredEvent>(`SELECT ${EVENT_COLS} FROM events WHERE id > $1 ORDER BY id LIMIT $2`, since, limit)
      : this.q<StoredEvent>(`SELECT ${EVENT_COLS} FROM events WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, sessionId, since, limit);
  }
  async oldestRetained(sessionId: string | null) {
    return (sessionId === null
      ? (await this.one<{ v: number | null }>('SELECT MIN(id) AS v FROM events'))?.v
      : (await this.one<{ v: number | null }>('SELECT MIN(seq) AS v FROM events WHERE session_id = $1', sessionId))?.v) ?? 0;
  }
  async maxSeq(sessionId: string) { return (await this.one<{ v: number | null }>('SELECT MAX(seq) AS v FROM events WHERE session_id = $1', sessionId))?.v ?? 0; }
  async maxEventId() { return (await this.one<{ v: number | null }>('SELECT MAX(id) AS v FROM events'))?.v ?? 0; }
  async reserveEventIds(count: number) {
    // Not used by the event log on this store (agentd_append_batch assigns ids); kept for the interface.
    const r = await this.one<{ first: number }>("SELECT nextval('event_ids') AS first");
    await this.q("SELECT setval('event_ids', $1)", r!.first + count - 1);
    return r!.first;
  }
  async pruneEvents(sessionId: string, keep: number) {
    const max = await this.maxSeq(sessionId);
    if (max <= keep) return;
    await this.tx(async (q) => {
      const maxId = (await q<{ v: number | null }>('SELECT MAX(id) AS v FROM events WHERE session_id = $1 AND seq <= $2', sessionId, max - keep))[0]?.v;
      if (maxId === null || maxId === undefined) return;
      await q('DELETE FROM events WHERE session_id = $1 AND seq <= $2', sessionId, max - keep);
      await q(`INSERT INTO meta (key, value) VALUES ('pruned_through_id', $1) ON CONFLICT (key)
        DO UPDATE SET value = GREATEST(meta.value::bigint, excluded.value::bigint)::text`, String(maxId));
    });
  }
  async prunedThroughId() { return Number((await this.one<{ value: string }>("SELECT value FROM meta WHERE key = 'pruned_through_id'"))?.value ?? 0); }

  async kvGet(ns: string, key: string) { return (await this.one<{ value: string }>('SELECT value FROM kv WHERE ns = $1 AND key = $2', ns, key))?.value; }
  async kvSet(ns: string, key: string, value: string) {
    await this.q('INSERT INTO kv (ns, key, value) VALUES ($1, $2, $3) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value', ns, key, value);
  }
  async kvInsert(ns: string, key: string, value: string) {
    return (await this.q('INSERT INTO kv (ns, key, value) VALUES ($1, $2, $3) ON CONFLICT (ns, key) DO NOTHING RETURNING 1 AS won', ns, key, value)).length === 1;
  }
  async kvDelete(ns: string, key: string) { await this.q('DELETE FROM kv WHERE ns = $1 AND key = $2', ns, key); }
  kvList(ns: string) { return this.q<{ key: string; value: string }>('SELECT key, value FROM kv WHERE ns = $1 ORDER BY key', ns); }

  async close() {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    // A clean stop gives the lease up at once: other nodes need not wait for it to expire.
    await this.q('DELETE FROM nodes WHERE id = $1', this.nodeId).catch(() => {});
    this.closed = true;
    this.listener.removeAllListeners('end');
    await Promise.allSettled([this.pool.end(), this.listener.end()]);
  }
}

/** Runs the migrations not yet run, each in its own transaction, under the migration lock. */
async function migrate(pool: pg.Pool) {
  const c = await pool.connect();
  try {
    await c.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK]);
    try {
      await c.query('CREATE TABLE IF NOT EXISTS meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL)');
      const r = await c.query<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'");
      for (let v = Number(r.rows[0]?.value ?? 0); v < MIGRATIONS.length; v++) {
        await c.query('BEGIN');
        try {
          await c.query(MIGRATIONS[v]);
          await c.query("INSERT INTO meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [String(v + 1)]);
          await c.query('COMMIT');
        } catch (err) {
          await c.query('ROLLBACK');
          throw err;
        }
      }
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK]);
    }
  } finally {
    c.release();
  }
}
