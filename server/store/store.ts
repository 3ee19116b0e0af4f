/**
 * Storage behind one asynchronous interface: SQLite (server/store/sqlite.ts, the embedded
 * default, whose calls complete synchronously underneath) or PostgreSQL (server/store/pg.ts,
 * several nodes on one database, node-postgres on the main thread). Nothing above this interface
 * relies on a call completing in the same tick: replay-then-live attaches the live listener
 * first, buffers, replays, then drains the buffer by position (server/events/follow.ts).
 */
import type { Message, Session } from '../../protocol/index.js';

/** An event as stored: its JSON text is kept so replay never re-serializes. */
export interface StoredEvent {
  id: number;
  sessionId: string | null;
  seq: number;
  type: string;
  json: string;
}

/** Session row: the protocol Session plus bookkeeping that never leaves the server. */
export interface SessionRecord extends Omit<Session, 'lastSeq'> {
  /** Pid of the process running the active turn (crash recovery skips live owners). */
  ownerPid?: number | null;
}

/** A session as both stores keep it: the record's JSON beside the columns that change on their own. */
export interface SessionRow { json: string; status: string; active_turn_id: string | null; owner_pid: number | null; updated_at: string }

export function sessionFromRow(r: SessionRow): SessionRecord {
  const s = JSON.parse(r.json) as SessionRecord;
  s.status = r.status as SessionRecord['status'];
  s.activeTurnId = r.active_turn_id;
  s.ownerPid = r.owner_pid;
  s.updatedAt = r.updated_at;
  return s;
}

/** The JSON column: everything but what has a column of its own (updatedAt is in both). */
export function sessionJson(s: SessionRecord): string {
  const { status: _s, activeTurnId: _a, ownerPid: _o, ...rest } = s;
  return JSON.stringify(rest);
}

/** Where a page of sessions continues: after this (updatedAt, id), in newest-updated-first order. */
export interface SessionKey { updatedAt: string; id: string }

/** The store could not be reached (a database down, restarting, out of connections): StoreUnavailable to the client, not a bug. */
export class StoreUnavailableError extends Error {
  constructor(readonly cause: unknown) {
    super(`store unavailable: ${String(cause)}`);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * What a store shared by several nodes adds (PostgreSQL): a node identity with a lease, events
 * appended by the database (ids and seqs assigned there, in commit order) and notifications.
 */
export interface Cluster {
  /** This node's id: the owner recorded on the turns it claims (instead of a pid). */
  readonly nodeId: number;
  /** Whether the node that owns a turn still holds its lease (heartbeat younger than the lease time). */
  ownerAlive(owner: number | null | undefined): Promise<boolean>;
  /**
   * Appends events in one statement (`data`: each one's JSON text). Returns the events other nodes
   * committed after `after` (an event id), oldest first, then the new ones in order: delivering
   * them in that order delivers every event in id order.
   */
  append(after: number, events: NewEvent[]): Promise<StoredEvent[]>;
  /** Another node committed events up to this id (from LISTEN/NOTIFY). */
  onEvents(fn: (throughId: number) => void): void;
  /** Sends a command to one node (`session/cancel` of a turn that runs there); node 0: to every node. */
  command(node: number, body: ClusterCommand): Promise<void>;
  onCommand(fn: (body: ClusterCommand) => void): void;
}

/** An event to append on a shared store (the database assigns its id and seq). */
export interface NewEvent { sessionId: string | null; type: string; time: string; data: string }

/** A command from one node to another. */
export type ClusterCommand =
  | { op: 'cancel'; sessionId: string; reason: string }
  /** A permission of a turn running there was answered elsewhere: its answer is in the kv table. */
  | { op: 'permission'; permissionId: string }
  /** The shared user config changed (sent to every node: node 0). */
  | { op: 'config' };

export interface Store {
  /** Set when several nodes share this store. */
  readonly cluster?: Cluster;
  insertSession(s: SessionRecord): Promise<void>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  /** Sessions marked running (a partial index: recovery's sweep reads only these, however many sessions there are). */
  runningSessions(): Promise<SessionRecord[]>;
  /**
   * Up to `limit` sessions, most recently updated first, after `after` (indexed by (updated_at, id));
   * `search`: only those whose name contains it, case-insensitive. `next`: where the following page
   * starts, null at the end. A search looks at a bounded number of sessions per page, so its page
   * may be short (even empty) with a `next`.
   */
  pageSessions(limit: number, after?: SessionKey, search?: string): Promise<{ sessions: SessionRecord[]; next: SessionKey | null }>;
  updateSession(s: SessionRecord): Promise<void>;
  /**
   * Read-modify-write of one session in a write transaction (no other writer, in this process or
   * another, interleaves): `fn` returns the new record, or undefined to leave it. Returns what was stored.
   */
  patchSession(id: string, fn: (s: SessionRecord) => SessionRecord | undefined): Promise<SessionRecord | undefined>;
  /** Atomically mark a session running with a turn; false when it was not idle. */
  claimTurn(sessionId: string, turnId: string, ownerPid: number, updatedAt: string): Promise<boolean>;
  /** Mark a session idle again (only if the given turn still owns it). */
  releaseTurn(sessionId: string, turnId: string, updatedAt: string): Promise<void>;
  /** Atomically move a running turn from a dead owner to `newOwnerPid` (crash recovery); false when someone else got there first. */
  takeOverTurn(sessionId: string, turnId: string, oldOwnerPid: number | null, newOwnerPid: number): Promise<boolean>;
  deleteSession(id: string): Promise<boolean>;

  putMessage(m: Message): Promise<void>;
  listMessages(sessionId: string): Promise<Message[]>;
  /**
   * Up to `limit` messages of a session, NEWEST first, older than the message `before` (omitted:
   * the newest). Undefined when `before` is not a message of that session. Indexed: constant work per page.
   */
  pageMessages(sessionId: string, limit: number, before?: string): Promise<Message[] | undefined>;
  /** A session's messages up to and including `through` (omitted: all), oldest first; undefined when `through` is not one of them. */
  messagesThrough(sessionId: string, through?: string): Promise<Message[] | undefined>;
  /** Inserts a session and its messages (in order) in one transaction. */
  insertSessionWithMessages(s: SessionRecord, messages: Message[]): Promise<void>;

  /** Appends events in one transaction. */
  appendEvents(events: StoredEvent[]): Promise<void>;
  /** Events of a session with seq > since (or all events with id > since when sessionId is null), oldest first. */
  eventsSince(sessionId: string | null, since: number, limit: number): Promise<StoredEvent[]>;
  /** Oldest retained seq (or id) of a stream; 0 when empty. */
  oldestRetained(sessionId: string | null): Promise<number>;
  maxSeq(sessionId: string): Promise<number>;
  /** The newest stored global event id; 0 when there is none. */
  maxEventId(): Promise<number>;
  /** Reserves `count` global event ids for this process; returns the first. */
  reserveEventIds(count: number): Promise<number>;
  /** Drop a session's events beyond the newest `keep`. */
  pruneEvents(sessionId: string, keep: number): Promise<void>;
  /** The highest global event id pruning has dropped (0 when none): the all-events stream has a gap below it. */
  prunedThroughId(): Promise<number>;

  /** A small key/value table for server state (idempotency records, API key hashes, ...). */
  kvGet(ns: string, key: string): Promise<string | undefined>;
  kvSet(ns: string, key: string, value: string): Promise<void>;
  /** Inserts unless the key exists: true when this call inserted it (the first of several nodes wins). */
  kvInsert(ns: string, key: string, value: string): Promise<boolean>;
  kvDelete(ns: string, key: string): Promise<void>;
  kvList(ns: string): Promise<Array<{ key: string; value: string }>>;

  close(): Promise<void>;
}
