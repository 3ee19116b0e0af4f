/**
 * Server-Sent Events: GET /v1/session/:sessionId/events and GET /v1/events, served by the
 * same `session/subscribe` handler as JSON-RPC (replay after `since`, then live, no gap and no
 * duplicate, via server/events/follow.ts). `Last-Event-ID` (what a browser EventSource sends
 * on reconnect) takes precedence over `?since=`. A comment line every 15 s keeps proxies and
 * clients from timing out; the subscription ends whenever the response closes.
 */
import type { Request, RequestHandler, Response, Router } from 'express';
import { methodTable, sseRoutes, type SseRouteSpec } from '../protocol/index.js';
import { SSE_HEARTBEAT_MS } from '../server/config/defaults.js';
import type { BridgeDeps } from './deps.js';
import { RpcError } from '../server/rpc/errors.js';
import { sendError } from './errors.js';
import { SSE_HEADERS, SsePeer } from './peer.js';
import { expressPath, paramsOf } from './routes.js';

export interface SseOptions {
  /** Milliseconds between heartbeat comments; default 15000. */
  heartbeatMs?: number;
}

/** The SSE routes of the manifest's `http` section. */
export { sseRoutes };

function streamHandler(core: BridgeDeps, route: SseRouteSpec, opts: SseOptions): RequestHandler {
  const heartbeatMs = opts.heartbeatMs ?? SSE_HEARTBEAT_MS;
  const definition = methodTable[route.stream].params;
  return async (req: Request, res: Response) => {
    if (req.method === 'HEAD') {
      res.writeHead(200, SSE_HEADERS).end();
      return;
    }
    const params = paramsOf(req, definition, 'query', route.query ?? []);
    const last = req.get('last-event-id');
    if (last !== undefined && last.trim() !== '') {
      if (!/^\d+$/.test(last.trim())) throw RpcError.invalidParams('Last-Event-ID', 'must be a non-negative integer');
      params.since = Number(last.trim());
    }
    const peer = new SsePeer(core, req, res, route.position ?? 'seq');
    core.trackPeer(peer);
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0);
    try {
      await core.dispatcher.request(route.stream!, params, { peer, signal: peer.lifetime.signal });
    } catch (err) {
      // Nothing was streamed yet when subscribe refuses (unknown session, bad since): a plain error answer.
      if (err instanceof RpcError) return sendError(res, err);
      throw err;
    }
    if (peer.closed) return;
    peer.open();
    peer.comment('connected');
    const heartbeat = setInterval(() => peer.comment('heartbeat'), heartbeatMs);
    heartbeat.unref();
    peer.onClose(() => clearInterval(heartbeat));
  };
}

/** Mounts the SSE routes. */
export function mountSse(router: Router, core: BridgeDeps, opts: SseOptions = {}) {
  for (const route of sseRoutes) router.get(expressPath(route.path), streamHandler(core, route, opts));
}
