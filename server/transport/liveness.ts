/**
 * Liveness: finding peers that went away without saying so.
 * - WebSocket: a ping every `intervalMs`; a peer that sent nothing (no pong, no message) since
 *   the previous ping is terminated, which closes its peer and frees its subscriptions.
 * - stdio: the parent process exiting ends the server even when stdin stays open (a pipe
 *   inherited by someone else): we poll our parent pid and stop when it changes.
 */
import type { WebSocket } from 'ws';


/** Pings `ws` every `intervalMs`; calls `onDead` (after terminating it) when a ping went unanswered. */
export function heartbeat(ws: WebSocket, intervalMs: number, onDead: () => void): () => void {
  let alive = true;
  const seen = () => { alive = true; };
  ws.on('pong', seen);
  ws.on('message', seen);
  const timer = setInterval(() => {
    if (!alive) {
      stop();
      ws.terminate();
      onDead();
      return;
    }
    alive = false;
    try { ws.ping(); } catch { /* closing: the close handler cleans up */ }
  }, intervalMs);
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    ws.off('pong', seen);
    ws.off('message', seen);
  };
  ws.once('close', stop);
  return stop;
}

/** Calls `onGone` once when this process's parent exits (we are re-parented). */
export function watchParent(onGone: () => void, intervalMs = 500): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      onGone();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
