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

export interface Store {
  insertSession(s: SessionRecord): void;
  getSession(id: string): SessionRecord | undefined;
  listSessions(): SessionRecord[];
  updateSession(s: SessionRecord): void;
  /** Atomically mark a session running with a turn; false when it was not idle. */
  claimTurn(sessionId: string, turnId: string, ownerPid: number, updatedAt: string): boolean;
  /** Mark a session idle again (only if the given turn still owns it). */
  releaseTurn(sessionId: string, turnId: string, updatedAt: string): void;
  /** Atomically move a running turn from a dead owner to `newOwnerPid` (crash recovery); false when someone else got there first. */
  takeOverTurn(sessionId: string, turnId: string, oldOwnerPid: number | null, newOwnerPid: number): boolean;
  deleteSession(id: string): boolean;

  putMessage(m: Message): void;
  listMessages(sessionId: string): Message[];

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
