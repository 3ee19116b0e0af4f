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

export interface Following {
  /** Stops following at once, during the replay too (a replay waiting for drain ends there). Idempotent. */
  stop(): void;
  /** Resolves once caught up (or stopped). */
  ready: Promise<void>;
}

/**
 * Follows a session (or everything, for null). The handle exists before the replay starts, so a
 * caller can always stop it. `visible`: asked at delivery of each event, replayed or live (what
 * the subscriber's user may see); an event it refuses is skipped, its position still passed.
 */
export function follow(log: EventLog, sessionId: string | null, since: number | undefined, target: EventSink, visible?: (e: PublishedEvent) => boolean): Following {
  const position = (e: PublishedEvent) => (sessionId === null ? e.id : e.seq);
  const sink: Pick<EventSink, 'deliver'> = visible ? { deliver: (e) => { if (visible(e)) target.deliver(e); } } : target;
  let cursor = since ?? log.lastSeq(sessionId);
  let buffered: PublishedEvent[] | null = since === undefined ? null : [];
  let stopped = false;
  const off = log.on(sessionId, (e) => {
    if (buffered) buffered.push(e);
    else if (position(e) > cursor) {
      cursor = position(e);
      sink.deliver(e);
    }
  });
  const stop = () => {
    stopped = true;
    buffered = null;
    off();
  };
  const replay = async () => {
    if (!buffered) return;
    const oldest = log.gapAfter(sessionId, cursor);
    if (oldest !== undefined) sink.deliver(EventLog.gap(sessionId, cursor, oldest));
    for (const page of log.pages(sessionId, cursor, PAGE)) {
      for (const e of page) {
        sink.deliver(e);
        cursor = position(e);
      }
      if (page.length < PAGE) break;
      await target.writable();
      if (stopped) return;
      if (target.closed) return stop();
    }
    // No await from the last page read to here: nothing can slip between replay and live.
    for (const e of buffered) {
      if (position(e) > cursor) {
        cursor = position(e);
        sink.deliver(e);
      }
    }
    buffered = null;
  };
  return { stop, ready: replay() };
}
