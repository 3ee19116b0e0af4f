/**
 * Storage behind a small synchronous interface, so another engine can be added later.
 * Synchronous on purpose: replay-then-live subscription is gap-free because nothing can
 * interleave between reading the log and attaching the live listener.
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

/** Where a page of sessions continues: after this (updatedAt, id), in newest-updated-first order. */
export interface SessionKey { updatedAt: string; id: string }

export interface Store {
  insertSession(s: SessionRecord): void;
  getSession(id: string): SessionRecord | undefined;
  listSessions(): SessionRecord[];
  /**
   * Up to `limit` sessions, most recently updated first, after `after` (indexed by (updated_at, id));
   * `search`: only those whose name contains it, case-insensitive. `next`: where the following page
   * starts, null at the end. A search looks at a bounded number of sessions per page, so its page
   * may be short (even empty) with a `next`.
   */
  pageSessions(limit: number, after?: SessionKey, search?: string): { sessions: SessionRecord[]; next: SessionKey | null };
  updateSession(s: SessionRecord): void;
  /**
   * Read-modify-write of one session in a write transaction (no other writer, in this process or
   * another, interleaves): `fn` returns the new record, or undefined to leave it. Returns what was stored.
   */
  patchSession(id: string, fn: (s: SessionRecord) => SessionRecord | undefined): SessionRecord | undefined;
  /** Atomically mark a session running with a turn; false when it was not idle. */
  claimTurn(sessionId: string, turnId: string, ownerPid: number, updatedAt: string): boolean;
  /** Mark a session idle again (only if the given turn still owns it). */
  releaseTurn(sessionId: string, turnId: string, updatedAt: string): void;
  /** Atomically move a running turn from a dead owner to `newOwnerPid` (crash recovery); false when someone else got there first. */
  takeOverTurn(sessionId: string, turnId: string, oldOwnerPid: number | null, newOwnerPid: number): boolean;
  deleteSession(id: string): boolean;

  putMessage(m: Message): void;
  listMessages(sessionId: string): Message[];
  /**
   * Up to `limit` messages of a session, NEWEST first, older than the message `before` (omitted:
   * the newest). Undefined when `before` is not a message of that session. Indexed: constant work per page.
   */
  pageMessages(sessionId: string, limit: number, before?: string): Message[] | undefined;
  /** A session's messages up to and including `through` (omitted: all), oldest first; undefined when `through` is not one of them. */
  messagesThrough(sessionId: string, through?: string): Message[] | undefined;
  /** Inserts a session and its messages (in order) in one transaction. */
  insertSessionWithMessages(s: SessionRecord, messages: Message[]): void;

  /** Appends events in one transaction. */
  appendEvents(events: StoredEvent[]): void;
  /** Events of a session with seq > since (or all events with id > since when sessionId is null), oldest first. */
  eventsSince(sessionId: string | null, since: number, limit: number): StoredEvent[];
  /** Oldest retained seq (or id) of a stream; 0 when empty. */
  oldestRetained(sessionId: string | null): number;
  maxSeq(sessionId: string): number;
  /** The newest stored global event id; 0 when there is none. */
  maxEventId(): number;
  /** Reserves `count` global event ids for this process; returns the first. */
  reserveEventIds(count: number): number;
  /** Drop a session's events beyond the newest `keep`. */
  pruneEvents(sessionId: string, keep: number): void;
  /** The highest global event id pruning has dropped (0 when none): the all-events stream has a gap below it. */
  prunedThroughId(): number;

  /** A small key/value table for server state (idempotency records, API key hashes, ...). */
  kvGet(ns: string, key: string): string | undefined;
  kvSet(ns: string, key: string, value: string): void;
  kvDelete(ns: string, key: string): void;
  kvList(ns: string): Array<{ key: string; value: string }>;

  close(): void;
}
