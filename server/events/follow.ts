/**
 * Replay-then-live: a subscriber that names `since` first gets every stored event after it,
 * page by page with backpressure, then live events, with no gap and no duplicate. Live events
 * that arrive during the replay are buffered and deduplicated by position. When `since` is
 * older than what retention kept, a `stream.gap` event comes first (refetch the snapshot).
 */
import { EventLog, type PublishedEvent } from './log.js';

export interface EventSink {
  deliver(e: PublishedEvent): void;
  /** Resolves when the sink can take more (its outbound buffer drained). */
  writable(): Promise<void>;
  readonly closed: boolean;
}

const PAGE = 1000;
/** Live events held per subscriber while its replay runs. */
const BUFFER = 10_000;

export interface Following {
  /** Stops following at once, during the replay too (a replay waiting for drain ends there). Idempotent. */
  stop(): void;
  /** Resolves once caught up (or stopped). */
  ready: Promise<void>;
  /**
   * Resolves once the first replayed page went to the target (or, live only, once the position the
   * live events start after is known), with that position: the newest position delivered so far.
   */
  started: Promise<number>;
}

/**
 * Follows a session (or everything, for null). The handle exists before the replay starts, so a
 * caller can always stop it. `visible`: asked at delivery of each event, replayed or live (what
 * the subscriber's user may see); an event it refuses is skipped, its position still passed.
 */
export function follow(log: EventLog, sessionId: string | null, since: number | undefined, target: EventSink, visible?: (e: PublishedEvent) => boolean): Following {
  const position = (e: PublishedEvent) => (sessionId === null ? e.id : e.seq);
  const sink: Pick<EventSink, 'deliver'> = visible ? { deliver: (e) => { if (visible(e)) target.deliver(e); } } : target;
  let cursor = since ?? 0;
  // The live listener is attached first and buffers until the replay is done: an event is stored
  // before it is delivered, so each one is either read by the replay or buffered here (or both:
  // then it is dropped by its position).
  let buffered: PublishedEvent[] | null = [];
  // Bounded: past BUFFER the buffer is dropped and the replay reads on from the store instead.
  let overflowed = false;
  let stopped = false;
  const off = log.on(sessionId, (e) => {
    if (buffered) {
      if (buffered.length < BUFFER) buffered.push(e);
      else overflowed = true;
    } else if (position(e) > cursor) {
      cursor = position(e);
      sink.deliver(e);
    }
  });
  const stop = () => {
    stopped = true;
    buffered = null;
    off();
  };
  // Resolved with the cursor once the first page of stored events is delivered.
  let markStarted!: (at: number) => void;
  const started = new Promise<number>((resolve) => { markStarted = resolve; });
  /** Delivers the stored events after the cursor; false once stopped. */
  const readStored = async (): Promise<boolean> => {
    for await (const page of log.pages(sessionId, cursor, PAGE)) {
      if (stopped) return false;
      for (const e of page) {
        sink.deliver(e);
        cursor = position(e);
      }
      markStarted(cursor);
      if (page.length < PAGE) break;
      await target.writable();
      if (stopped) return false;
      if (target.closed) { stop(); return false; }
    }
    return !stopped;
  };
  const replay = async () => {
    // Live only: start after the newest delivered event (read after the listener is attached).
    if (since === undefined) {
      cursor = await log.lastSeq(sessionId);
      markStarted(cursor);
    } else {
      const oldest = await log.gapAfter(sessionId, cursor);
      if (stopped) return;
      if (oldest !== undefined) sink.deliver(EventLog.gap(sessionId, cursor, oldest));
      if (!(await readStored())) return;
    }
    while (overflowed) {
      overflowed = false;
      buffered = [];
      if (!(await readStored())) return;
    }
    if (stopped || !buffered) return;
    for (const e of buffered) {
      if (position(e) > cursor) {
        cursor = position(e);
        sink.deliver(e);
      }
    }
    buffered = null;
  };
  const ready = replay().finally(() => markStarted(cursor));
  return { stop, ready, started };
}
