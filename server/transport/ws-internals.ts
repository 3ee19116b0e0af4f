/**
 * The one place that reads ws's private fields, for the WebSocket transport's fast send path
 * (one socket write per batch of text frames, see textFrames in websocket.ts). Written against
 * ws WS_INTERNALS_VERSION: test/transport/ws-internals.test.ts fails when the installed ws is
 * another version, so an upgrade re-checks these two reads before it ships.
 */
import type { WebSocket } from 'ws';

/** The ws version whose internals (`_socket`, `_sender._state`, `_sender._queue`) this file reads. */
export const WS_INTERNALS_VERSION = '8.23.0';

type Socketish = { cork(): void; uncork(): void; write(b: Buffer): boolean; once(ev: 'drain', cb: () => void): void; writableNeedDrain: boolean };

/** The connection's net.Socket (ws keeps it in `_socket`). */
export const socketOf = (ws: WebSocket) => (ws as unknown as { _socket: Socketish })._socket;

/** ws's Sender is idle (nothing queued behind a compression or a blob): our bytes cannot interleave with its. */
export const senderIdle = (ws: WebSocket) => {
  const sender = (ws as unknown as { _sender?: { _state?: number; _queue?: unknown[] } })._sender;
  return sender?._state === 0 && sender._queue?.length === 0;
};
