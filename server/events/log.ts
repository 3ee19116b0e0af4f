/**
 * The event log: assigns each event its ids, serializes it once, persists it and then delivers it
 * on the bus (eventemitter3). Appends are queued and written in batches (one store call per
 * event-loop turn, or per write while one is in flight); an event is delivered only once its batch
 * is stored, so a client never sees an event that a crash could lose. On a shared store (several
 * nodes on PostgreSQL) the database assigns ids and seqs, and events other nodes committed are
 * read back (their NOTIFY carries ids) and delivered in id order by the same serialized loop.
 * (A 5 ms commit window was tried for throughput, bench/: it cost latency for little.)
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
const noop = () => {};
const ID_BLOCK = 4096;
/** Events per append statement on a shared store. */
const SHARED_BATCH = 500;

/** An appended event waiting for its batch to be stored. `data`: its JSON text. */
interface Queued { sessionId: string | null; type: string; time: string; data: string; done: (e: PublishedEvent) => void; after?: Promise<unknown> }

export class EventLog {
  private bus = new EventEmitter();
  private observers: EventListener[] = [];
  private queue: Queued[] = [];
  private scheduled = false;
  /** The running write loop, while there is one: appends made meanwhile go in its next batch. */
  private draining: Promise<void> | null = null;
  /** Appends so far, and how many of them are done (stored and delivered, or failed): settled() waits on these. */
  private appended = 0;
  private completed = 0;
  private waiters: Array<{ through: number; resolve: () => void }> = [];
  /** Per session: the newest seq delivered (while its batch is written: the newest before it). */
  private seqs = new Map<string, number>();
  private nextId = 0;
  private idEnd = 0;
  /** The newest event id this process delivered (0: none yet). */
  private lastId = 0;

  /** Per session: the seq up to which retention was last enforced. */
  private prunedAt = new Map<string, number>();

  /**
   * On a shared store (several nodes on PostgreSQL): the newest event id delivered on this bus, and
   * the newest another node announced. Every event is delivered once, in id order, whichever node appended it.
   */
  private delivered = 0;
  private announced = 0;
  /** Store failures in a row (the write loop's pause grows with them). */
  private failures = 0;

  /** `retention()`: events kept per session (limits.eventRetention); older ones are pruned as new ones are stored. */
  constructor(private store: Store, private log: Logger, private retention: () => number = () => Infinity) {
    store.cluster?.onEvents((through) => {
      if (through <= this.announced) return;
      this.announced = through;
      this.kick();
    });
  }

  /** On a shared store: start delivering after the newest stored event. Called once before any append. */
  async start(): Promise<void> {
    if (this.store.cluster) this.delivered = Math.max(this.delivered, await this.store.maxEventId());
  }

  /** Observers first (they see every event before any subscriber does), then the session's and the all-events listeners. */
  private emit(ev: PublishedEvent) {
    // A listener's bug must not cost the other listeners, or the rest of the batch, their delivery.
    try { for (const fn of this.observers) fn(ev); } catch (err) { this.listenerFailed(ev, err); }
    if (ev.sessionId !== null) try { this.bus.emit(ev.sessionId, ev); } catch (err) { this.listenerFailed(ev, err); }
    try { this.bus.emit(ALL, ev); } catch (err) { this.listenerFailed(ev, err); }
  }

  private listenerFailed(ev: PublishedEvent, err: unknown) {
    this.log.error({ err: String(err), id: ev.id, type: ev.type }, 'event listener failed');
  }

  /**
   * Sees every live event, whichever node appended it, before any subscriber: what decides
   * delivery (the access cache of server/security/access.ts) is then never behind the event.
   */
  observe(fn: EventListener): void {
    this.observers.push(fn);
  }

  /**
   * Appends an event: it is stored, then delivered, in append order. The promise resolves once it
   * was delivered (callers that need its seq, or its delivery before what they do next, await it).
   * `after`: its batch is not written before this settles (a turn's end event waits for the
   * session to be released, so a client that sees it can send the next message at once).
   */
  append<K extends keyof EventDataMap>(sessionId: string | null, type: K, data: EventDataMap[K], after?: Promise<unknown>): Promise<PublishedEvent> {
    return new Promise((done) => this.enqueue(sessionId, type, data, done, after));
  }

  /** The same without a promise, for the hot path (a stream's deltas): nobody waits for each one. */
  push<K extends keyof EventDataMap>(sessionId: string | null, type: K, data: EventDataMap[K]): void {
    this.enqueue(sessionId, type, data, noop);
  }

  private enqueue(sessionId: string | null, type: string, data: unknown, done: Queued['done'], after?: Promise<unknown>) {
    this.appended++;
    this.queue.push({ sessionId, type, time: this.now(), data: JSON.stringify(data) ?? 'null', done, after });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => { this.scheduled = false; this.kick(); });
    }
  }

  private clock = { ms: 0, iso: '' };
  /** The ISO time, built once per millisecond (many events share one). */
  private now(): string {
    const ms = Date.now();
    if (ms !== this.clock.ms) this.clock = { ms, iso: new Date(ms).toISOString() };
    return this.clock.iso;
  }

  private kick() {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      if (this.queue.length || this.announced > this.delivered) this.kick();
    });
  }

  private async drain() {
    const cluster = this.store.cluster;
    while (this.queue.length || (cluster && this.announced > this.delivered)) {
      let batch: Queued[] = [];
      try {
        if (cluster && this.announced > this.delivered) await this.pull();
        batch = this.queue;
        this.queue = [];
        for (const q of batch) if (q.after) await q.after.catch(() => {});
        if (batch.length) await (cluster ? this.writeShared(batch) : this.writeLocal(batch));
        this.failures = 0;
      } catch (err) {
        this.log.error({ err: String(err) }, 'event log write failed');
        // Nobody waits forever: what was not delivered resolves undelivered (id 0). A second resolve is a no-op.
        for (const q of batch) q.done(new PublishedEvent(0, q.sessionId, 0, q.type, EventLog.json(0, q.sessionId, 0, q)));
        this.completed += batch.length;
        if (this.waiters.length) this.wake();
        // A store that keeps failing (the database gone) is retried with a growing pause, not in a tight loop.
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** this.failures++)).unref());
        continue;
      }
      this.completed += batch.length;
      if (this.waiters.length) this.wake();
    }
  }

  /** Resolves once every event appended so far is stored and delivered (later appends are not waited for). */
  settled(): Promise<void> {
    if (this.completed >= this.appended) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ through: this.appended, resolve }));
  }

  private wake() {
    const still: typeof this.waiters = [];
    for (const w of this.waiters) (w.through <= this.completed ? w.resolve() : still.push(w));
    this.waiters = still;
  }

  /** True while appended events wait to be stored and delivered (a response should follow them). */
  get busy(): boolean {
    return this.completed < this.appended;
  }

  private static json(id: number, sessionId: string | null, seq: number, q: Queued): string {
    return `${JSON.stringify({ id, sessionId, seq, type: q.type, time: q.time }).slice(0, -1)},"data":${q.data}}`;
  }

  /** One process's store (SQLite): ids from reserved blocks, seqs from the per-session counters. */
  private async writeLocal(batch: Queued[]) {
    for (const q of batch) {
      if (q.sessionId !== null && !this.seqs.has(q.sessionId)) this.seqs.set(q.sessionId, await this.store.maxSeq(q.sessionId));
    }
    if (this.idEnd - this.nextId < batch.length) {
      const count = Math.max(ID_BLOCK, batch.length);
      this.nextId = await this.store.reserveEventIds(count);
      this.idEnd = this.nextId + count;
    }
    const next = new Map<string, number>();
    const evs = batch.map((q) => {
      const id = this.nextId++;
      let seq = id;
      if (q.sessionId !== null) {
        seq = (next.get(q.sessionId) ?? this.seqs.get(q.sessionId) ?? 0) + 1;
        next.set(q.sessionId, seq);
      }
      return new PublishedEvent(id, q.sessionId, seq, q.type, EventLog.json(id, q.sessionId, seq, q));
    });
    let stored: boolean[] | undefined;
    try {
      await this.store.appendEvents(evs);
    } catch (err) {
      // A row another process wrote first (or a failing disk): store what fits one by one, log the rest.
      this.log.error({ err: String(err) }, 'event batch failed; retrying one by one');
      stored = [];
      for (const e of evs) {
        try {
          await this.store.appendEvents([e]);
          stored.push(true);
        } catch (e2) {
          stored.push(false);
          this.log.error({ err: String(e2), id: e.id, seq: e.seq }, 'event not persisted');
        }
      }
    }
    for (const [sessionId, seq] of next) this.seqs.set(sessionId, seq);
    for (let i = 0; i < evs.length; i++) {
      const q = batch[i];
      // Only what was stored is delivered: a client never sees an event that a restart would not replay.
      if (stored && !stored[i]) {
        // Its seq may be another process's: that session's counter is read again next time.
        if (q.sessionId !== null) this.seqs.delete(q.sessionId);
        q.done(new PublishedEvent(0, q.sessionId, 0, q.type, EventLog.json(0, q.sessionId, 0, q)));
        continue;
      }
      this.lastId = evs[i].id;
      this.emit(evs[i]);
      q.done(evs[i]);
    }
    await this.enforceRetention(stored ? evs.filter((_, i) => stored![i]) : evs);
  }

  /** A shared store: the database assigns ids and seqs; events other nodes committed before come first. */
  private async writeShared(batch: Queued[]) {
    for (let at = 0; at < batch.length; at += SHARED_BATCH) {
      const part = batch.slice(at, at + SHARED_BATCH);
      const rows = (await this.store.cluster!.append(this.delivered, part)).map(PublishedEvent.from);
      // Ours are the last part.length rows, in order.
      const ours = rows.length - part.length;
      for (let i = 0; i < rows.length; i++) {
        this.deliver(rows[i]);
        if (i >= ours) part[i - ours].done(rows[i]);
      }
      await this.enforceRetention(rows.slice(ours));
    }
  }

  /** Delivers what other nodes committed up to what they announced (their NOTIFY), in id order. */
  private async pull() {
    while (this.delivered < this.announced) {
      const page = await this.store.eventsSince(null, this.delivered, 1000);
      for (const e of page) this.deliver(PublishedEvent.from(e));
      if (page.length < 1000) return;
    }
  }

  private deliver(ev: PublishedEvent) {
    if (ev.id <= this.delivered) return;
    this.delivered = ev.id;
    this.emit(ev);
  }

  /** The newest delivered seq of a session (or id, for null). */
  async lastSeq(sessionId: string | null): Promise<number> {
    if (this.store.cluster) return sessionId === null ? this.store.maxEventId() : this.store.maxSeq(sessionId);
    if (sessionId === null) return this.lastId > 0 ? this.lastId : this.store.maxEventId();
    return this.seqs.get(sessionId) ?? this.store.maxSeq(sessionId);
  }

  /** Reload a session's seq counter from the store (another process may have appended). */
  async refresh(sessionId: string) {
    await this.settled();
    this.seqs.delete(sessionId);
  }

  /** Keeps the newest `retention()` events per session, pruning in steps of 1% so a batch rarely pays for it. */
  private async enforceRetention(batch: PublishedEvent[]) {
    const keep = this.retention();
    if (!Number.isFinite(keep)) return;
    const step = Math.max(1, Math.floor(keep / 100));
    const newest = new Map<string, number>();
    for (const e of batch) if (e.sessionId !== null && e.seq > (newest.get(e.sessionId) ?? 0)) newest.set(e.sessionId, e.seq);
    for (const [sessionId, seq] of newest) {
      if (seq <= keep || seq - (this.prunedAt.get(sessionId) ?? keep) < step) continue;
      this.prunedAt.set(sessionId, seq);
      try {
        await this.store.pruneEvents(sessionId, keep);
      } catch (err) {
        this.log.warn({ err: String(err), sessionId }, 'event pruning failed');
      }
    }
  }

  /** Stored events after `since`, oldest first. (Events still queued are not stored yet, and not yet delivered.) */
  async replay(sessionId: string | null, since: number, limit = 1000): Promise<PublishedEvent[]> {
    return (await this.store.eventsSince(sessionId, since, limit)).map(PublishedEvent.from);
  }

  /**
   * The one paging scan: every stored event after `since` (seq; event id for the all-events
   * stream, null), a page of at most `size` at a time, read lazily (a caller may wait between pages).
   */
  async *pages(sessionId: string | null, since: number, size = 1000): AsyncGenerator<PublishedEvent[]> {
    for (let cursor = since; ;) {
      const page = await this.replay(sessionId, cursor, size);
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
  async gapAfter(sessionId: string | null, since: number): Promise<number | undefined> {
    const oldest = await this.store.oldestRetained(sessionId);
    if (sessionId === null) return (await this.store.prunedThroughId()) > since ? oldest : undefined;
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
