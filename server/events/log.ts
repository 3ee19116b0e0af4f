/**
 * The event log: assigns each event its ids, serializes it once, delivers it live on the bus
 * (eventemitter3) and persists it in batches (one transaction per event-loop turn), so the
 * delivery path never waits for the disk. The commit is queued before any transport's write
 * of the same events (both are setImmediate, the commit first), so a client never sees an
 * event that a crash could lose. (A 5 ms commit window was tried for throughput, bench/: it
 * broke that guarantee.)
 */
import { EventEmitter } from 'eventemitter3';
import type { EventDataMap } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import type { StoredEvent, Store } from '../store/store.js';

/** A serialized event, shared by every subscriber: the JSON text, the JSON-RPC frame and the SSE message are built once. */
export class PublishedEvent implements StoredEvent {
  private cachedFrame?: string;
  private cachedSse?: { seq?: string; id?: string };
  constructor(readonly id: number, readonly sessionId: string | null, readonly seq: number, readonly type: string, readonly json: string) {}
  /** The complete `session/event` notification. */
  get frame(): string {
    return (this.cachedFrame ??= `{"jsonrpc":"2.0","method":"session/event","params":${this.json}}`);
  }
  /** The SSE message: `event:` type, `id:` seq or event id, `data:` the Event JSON (one line). */
  sse(position: 'seq' | 'id'): string {
    const c = (this.cachedSse ??= {});
    return (c[position] ??= `event: ${this.type}\nid: ${position === 'seq' ? this.seq : this.id}\ndata: ${this.json}\n\n`);
  }
  static from(e: StoredEvent) { return new PublishedEvent(e.id, e.sessionId, e.seq, e.type, e.json); }
}

export type EventListener = (e: PublishedEvent) => void;
const ALL = '*';
const ID_BLOCK = 4096;

export class EventLog {
  private bus = new EventEmitter();
  private observers: EventListener[] = [];
  private pending: PublishedEvent[] = [];
  private flushScheduled = false;
  private seqs = new Map<string, number>();
  private nextId = 0;
  private idEnd = 0;

  /** Per session: the seq up to which retention was last enforced. */
  private prunedAt = new Map<string, number>();

  /**
   * On a shared store (several nodes on PostgreSQL): the newest event id delivered on this bus.
   * Every event is delivered once, in id order, whichever node appended it.
   */
  private delivered = 0;

  /** `retention()`: events kept per session (limits.eventRetention); older ones are pruned as new ones are flushed. */
  constructor(private store: Store, private log: Logger, private retention: () => number = () => Infinity) {
    if (store.cluster) {
      this.delivered = store.maxEventId();
      store.cluster.onEvents((through) => this.pull(through));
    }
  }

  /** Delivers what other nodes committed up to `through` (their NOTIFY), in id order. */
  private pull(through: number) {
    try {
      while (this.delivered < through) {
        const page = this.store.eventsSince(null, this.delivered, 1000);
        for (const e of page) this.deliver(PublishedEvent.from(e));
        if (page.length < 1000) return;
      }
    } catch (err) {
      this.log.error({ err: String(err) }, 'reading events of other nodes failed');
    }
  }

  private deliver(ev: PublishedEvent) {
    if (ev.id <= this.delivered) return;
    this.delivered = ev.id;
    this.emit(ev);
  }

  /** Observers first (they see every event before any subscriber does), then the session's and the all-events listeners. */
  private emit(ev: PublishedEvent) {
    for (const fn of this.observers) fn(ev);
    if (ev.sessionId !== null) this.bus.emit(ev.sessionId, ev);
    this.bus.emit(ALL, ev);
  }

  /**
   * Sees every live event, whichever node appended it, before any subscriber: what decides
   * delivery (the access cache of server/security/access.ts) is then never behind the event.
   */
  observe(fn: EventListener): void {
    this.observers.push(fn);
  }

  /** Appends an event; subscribers get it synchronously, the store at the end of this loop turn (on a shared store: before it returns). */
  append<K extends keyof EventDataMap>(sessionId: string | null, type: K, data: EventDataMap[K]): PublishedEvent {
    const cluster = this.store.cluster;
    if (cluster) {
      // The database assigns id and seq; events other nodes committed before it come first.
      const rows = cluster.append(this.delivered, sessionId, type, new Date().toISOString(), JSON.stringify(data) ?? 'null');
      const evs = rows.map(PublishedEvent.from);
      for (const e of evs) this.deliver(e);
      const ev = evs[evs.length - 1];
      this.enforceRetention([ev]);
      return ev;
    }
    if (this.nextId >= this.idEnd) {
      this.nextId = this.store.reserveEventIds(ID_BLOCK);
      this.idEnd = this.nextId + ID_BLOCK;
    }
    const id = this.nextId++;
    const seq = sessionId === null ? id : this.nextSeq(sessionId);
    const json = JSON.stringify({ id, sessionId, seq, type, time: new Date().toISOString(), data });
    const ev = new PublishedEvent(id, sessionId, seq, type, json);
    this.pending.push(ev);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    this.emit(ev);
    return ev;
  }

  private nextSeq(sessionId: string): number {
    let s = this.seqs.get(sessionId);
    if (s === undefined) {
      this.flush();
      s = this.store.maxSeq(sessionId);
    }
    this.seqs.set(sessionId, ++s);
    return s;
  }

  /** The newest seq of a session (or id, for null), including events not yet flushed. */
  lastSeq(sessionId: string | null): number {
    if (this.store.cluster) return sessionId === null ? this.store.maxEventId() : this.store.maxSeq(sessionId);
    // Before this process appended anything, read the newest id (a read: no id block is reserved).
    if (sessionId === null) return this.nextId > 0 ? this.nextId - 1 : this.store.maxEventId();
    return this.seqs.get(sessionId) ?? (this.flush(), this.store.maxSeq(sessionId));
  }

  /** Reload a session's seq counter from the store (another process may have appended). */
  refresh(sessionId: string) {
    this.flush();
    this.seqs.delete(sessionId);
  }

  /** Writes pending events now. Called at the end of each loop turn and before reads. */
  flush(): void {
    this.flushScheduled = false;
    if (!this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    try {
      this.store.appendEvents(batch);
    } catch (err) {
      // A row another process wrote first: store what fits one by one, log the rest.
      this.log.error({ err: String(err) }, 'event batch failed; retrying one by one');
      for (const e of batch) {
        try { this.store.appendEvents([e]); } catch (e2) { this.log.error({ err: String(e2), id: e.id, seq: e.seq }, 'event not persisted'); }
      }
    }
    this.enforceRetention(batch);
  }

  /** Keeps the newest `retention()` events per session, pruning in steps of 1% so a flush rarely pays for it. */
  private enforceRetention(batch: PublishedEvent[]) {
    const keep = this.retention();
    if (!Number.isFinite(keep)) return;
    const step = Math.max(1, Math.floor(keep / 100));
    const newest = new Map<string, number>();
    for (const e of batch) if (e.sessionId !== null && e.seq > (newest.get(e.sessionId) ?? 0)) newest.set(e.sessionId, e.seq);
    for (const [sessionId, seq] of newest) {
      if (seq <= keep || seq - (this.prunedAt.get(sessionId) ?? keep) < step) continue;
      this.prunedAt.set(sessionId, seq);
      try {
        this.store.pruneEvents(sessionId, keep);
      } catch (err) {
        this.log.warn({ err: String(err), sessionId }, 'event pruning failed');
      }
    }
  }

  /** Persisted events after `since`, oldest first (flushes first, so nothing pending is missed). */
  replay(sessionId: string | null, since: number, limit = 1000): PublishedEvent[] {
    this.flush();
    return this.store.eventsSince(sessionId, since, limit).map(PublishedEvent.from);
  }

  /**
   * The one paging scan: every persisted event after `since` (seq; event id for the all-events
   * stream, null), a page of at most `size` at a time, read lazily (a caller may wait between pages).
   */
  *pages(sessionId: string | null, since: number, size = 1000): Generator<PublishedEvent[]> {
    for (let cursor = since; ;) {
      const page = this.replay(sessionId, cursor, size);
      if (page.length) yield page;
      if (page.length < size) return;
      const last = page[page.length - 1];
      cursor = sessionId === null ? last.id : last.seq;
    }
  }

  /**
   * Whether a subscriber resuming after `since` would miss events that retention pruned: then
   * the oldest retained seq (id, for the all-events stream), else undefined.
   */
  gapAfter(sessionId: string | null, since: number): number | undefined {
    this.flush();
    const oldest = this.store.oldestRetained(sessionId);
    if (sessionId === null) return this.store.prunedThroughId() > since ? oldest : undefined;
    return oldest > since + 1 ? oldest : undefined;
  }

  /** A `stream.gap` event for one subscriber: seq 0, never stored, id = the cursor asked for (at least 1). */
  static gap(sessionId: string | null, since: number, oldestSeq: number): PublishedEvent {
    const id = Math.max(1, since);
    const json = JSON.stringify({ id, sessionId, seq: 0, type: 'stream.gap', time: new Date().toISOString(), data: { since, oldestSeq } });
    return new PublishedEvent(id, sessionId, 0, 'stream.gap', json);
  }

  /** Live events of a session (or of everything, for null). Returns the unsubscribe function. */
  on(sessionId: string | null, listener: EventListener): () => void {
    const key = sessionId ?? ALL;
    this.bus.on(key, listener);
    return () => { this.bus.off(key, listener); };
  }

  /** After a session is deleted: drop its counter. */
  forget(sessionId: string) { this.seqs.delete(sessionId); this.prunedAt.delete(sessionId); }

  listenerCount(sessionId: string | null) { return this.bus.listenerCount(sessionId ?? ALL); }
}
