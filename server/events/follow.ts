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

/** Follows a session (or everything, for null). Resolves, once caught up, to the unsubscribe function. */
export async function follow(log: EventLog, sessionId: string | null, since: number | undefined, sink: EventSink): Promise<() => void> {
  const position = (e: PublishedEvent) => (sessionId === null ? e.id : e.seq);
  let cursor = since ?? log.lastSeq(sessionId);
  let buffered: PublishedEvent[] | null = since === undefined ? null : [];
  const off = log.on(sessionId, (e) => {
    if (buffered) buffered.push(e);
    else if (position(e) > cursor) {
      cursor = position(e);
      sink.deliver(e);
    }
  });
  if (buffered) {
    const oldest = log.gapAfter(sessionId, cursor);
    if (oldest !== undefined) sink.deliver(EventLog.gap(sessionId, cursor, oldest));
    for (;;) {
      const page = log.replay(sessionId, cursor, PAGE);
      for (const e of page) {
        sink.deliver(e);
        cursor = position(e);
      }
      if (page.length < PAGE) break;
      await sink.writable();
      if (sink.closed) { off(); return off; }
    }
    // No await from the last page read to here: nothing can slip between replay and live.
    for (const e of buffered) {
      if (position(e) > cursor) {
        cursor = position(e);
        sink.deliver(e);
      }
    }
    buffered = null;
  }
  return off;
}
