/**
 * WebSocket transport (ws) at /rpc: one JSON-RPC message per text frame, on the HTTP server
 * that also serves the REST bridge. Batches are corked into one socket write. `/acp` (ACP, when
 * the caller serves it) is admitted by the same checks and handed over once upgraded.
 */
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ErrorCodes } from '../../protocol/index.js';
import type { ConfigService } from '../config/service.js';
import type { Peer } from '../rpc/peer.js';
import { refusalBody, RpcError } from '../rpc/errors.js';
import { CheckedReader, errorFrame } from '../rpc/frames.js';
import { JsonRpcPeer, type JsonRpcPeerDeps } from '../rpc/jsonrpc-peer.js';
import { heartbeat } from './liveness.js';
import { timings } from '../config/defaults.js';
import { WS_PROTOCOL } from '../security/guard.js';
import { rateSubject } from '../security/rate.js';
import type { Caller } from '../security/caller.js';
import { senderIdle, socketOf } from './ws-internals.js';
import { BatchingWriter, OVERFLOW_GRACE_MS, overflowReason, type SendBudget } from './writer.js';

/** What the WebSocket transport needs: a peer's deps, the limits, the server-wide send budget and a place to register peers. */
export interface WebSocketDeps extends JsonRpcPeerDeps {
  config: Pick<ConfigService, 'limits'>;
  sendBudget: SendBudget;
  trackPeer(peer: Peer): void;
}

export const RPC_PATH = '/rpc';
export const ACP_PATH = '/acp';
/** Close code of a peer disconnected for not reading (1008: policy violation). */
export const WS_CLOSE_TOO_SLOW = 1008;


class WsReader extends CheckedReader {
  constructor(ws: WebSocket, reject: (id: string | number | null, e: RpcError) => void, admit?: () => number) {
    super(reject, admit);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return this.refuse(RpcError.invalidRequest('send JSON-RPC messages as text frames'));
      this.receive(data.toString());
    });
    ws.on('close', () => this.closed());
    ws.on('error', (err) => this.fireError(err));
  }
}

/**
 * A batch of server-to-client text frames (unmasked, FIN, no extension) as one buffer: one
 * socket write per batch instead of two per message through ws's Sender, which dominated the
 * send path in bench/ (event throughput).
 */
export function textFrames(batch: string[]): Buffer {
  const lengths = new Array<number>(batch.length);
  let total = 0;
  for (let i = 0; i < batch.length; i++) {
    const n = Buffer.byteLength(batch[i]);
    lengths[i] = n;
    total += n + (n < 126 ? 2 : n < 65536 ? 4 : 10);
  }
  const buf = Buffer.allocUnsafe(total);
  let o = 0;
  for (let i = 0; i < batch.length; i++) {
    const n = lengths[i];
    buf[o++] = 0x81;
    if (n < 126) buf[o++] = n;
    else if (n < 65536) {
      buf[o++] = 126;
      buf.writeUInt16BE(n, o);
      o += 2;
    } else {
      buf[o++] = 127;
      buf.writeUInt32BE(Math.floor(n / 2 ** 32), o);
      buf.writeUInt32BE(n >>> 0, o + 4);
      o += 8;
    }
    o += buf.write(batch[i], o, 'utf8');
  }
  return buf;
}

/** A refusal: the HTTP status, the protocol error code and message, extra headers (Retry-After). */
export interface Refusal { ok: false; status: number; code: number; message: string; headers?: Record<string, string> }

/** Decides an upgrade: refuse with a status, or admit with the principal that rate limits count against. */
export type UpgradeGuard = (req: IncomingMessage) => Promise<Refusal | { ok: true; principal: string; caller?: Caller }>;

export interface WebSocketOptions {
  guard?: UpgradeGuard;
  /** Rate limiting of inbound messages (and upgrades) per client: 0 admits, otherwise seconds to wait. */
  limit?: (req: IncomingMessage, principal: string) => (() => number) | undefined;
  /** Serves an admitted upgrade at ACP_PATH (absent: /acp is not found). */
  acp?: (ws: WebSocket, req: IncomingMessage, principal: string, admit?: () => number, caller?: Caller) => void;
}

/** Node emits 'upgrade' for any Upgrade header (h2c from `curl --http2` too); only these are ours. */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').split(',').some((p) => p.trim().toLowerCase() === 'websocket');
}

const onSocketError = function (this: Duplex) { this.destroy(); };

/**
 * The one way an upgrade is refused (like ws's abortHandshake): a complete HTTP response with the
 * error body, then the socket is closed. The socket has an 'error' listener before anything is
 * written, so a client that resets the connection after (or during) the refusal cannot crash us.
 */
export function refuseUpgrade(socket: Duplex, r: Omit<Refusal, 'ok'>) {
  if (socket.listenerCount('error') === 0) socket.on('error', onSocketError);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = refusalBody(r);
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Connection: 'close', ...r.headers,
  };
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ''}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`);
}

/**
 * An upgrade we do not speak (h2c, anything but websocket) is declined as HTTP allows: the request
 * is served as the plain request it also is. Its head is rebuilt without the upgrade headers and
 * handed back, with the bytes that followed it, to the HTTP server as a new connection, which
 * parses it (body, keep-alive, pipelining) like any other.
 */
function serveAsPlainRequest(server: Server, req: IncomingMessage, socket: Duplex, head: Buffer, before?: ServerResponse) {
  // Pipelined behind a response still being written: the new parser must start after it.
  if (before && !before.writableFinished && !before.destroyed) {
    const go = () => { before.off('finish', go); before.off('close', go); serveAsPlainRequest(server, req, socket, head); };
    before.once('finish', go);
    before.once('close', go);
    return;
  }
  const drop = new Set(['upgrade', 'http2-settings']);
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (drop.has(name)) continue;
    if (name === 'connection') {
      const tokens = raw[i + 1].split(',').map((t) => t.trim()).filter((t) => t && !drop.has(t.toLowerCase()));
      if (tokens.length) lines.push(`${raw[i]}: ${tokens.join(', ')}`);
      continue;
    }
    lines.push(`${raw[i]}: ${raw[i + 1]}`);
  }
  // Header values arrive latin1-decoded: latin1 gives back the exact bytes.
  socket.unshift(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), head]));
  // From here the HTTP server's own error handling covers the socket again.
  socket.off('error', onSocketError);
  // https servers parse on 'secureConnection' (the socket is already the TLS one).
  server.emit((socket as TLSSocket).encrypted ? 'secureConnection' : 'connection', socket);
}

export function attachWebSocket(core: WebSocketDeps, server: Server, opts: WebSocketOptions = {}): WebSocketServer {
  const limits = core.config.limits();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxBodyBytes,
    // Browsers pass the API key as a subprotocol; never echo that one back, pick `agentd`.
    handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
  });
  // The last response of each connection, for a declined upgrade pipelined behind it.
  const lastResponse = new WeakMap<object, ServerResponse>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => { lastResponse.set(req.socket, res); });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!isWebSocketUpgrade(req)) {
      socket.on('error', onSocketError);
      return serveAsPlainRequest(server, req, socket, head, lastResponse.get(socket));
    }
    // First, before any decision: a reset while we answer must not become an uncaught error.
    socket.on('error', onSocketError);
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      return refuseUpgrade(socket, { status: 400, code: ErrorCodes.InvalidRequest, message: 'malformed request target' });
    }
    const acp = path === ACP_PATH ? opts.acp : undefined;
    if (path !== RPC_PATH && !acp) {
      return refuseUpgrade(socket, { status: 404, code: ErrorCodes.MethodNotFound, message: `No WebSocket endpoint at ${path}; use ${RPC_PATH}${opts.acp ? ` (or ${ACP_PATH} for ACP)` : ''}` });
    }
    const decided = opts.guard?.(req) ?? Promise.resolve({ ok: true as const, principal: `ip:${req.socket.remoteAddress}`, caller: undefined });
    decided.then((verdict) => {
      // The client may have gone while the key was checked.
      if (socket.destroyed) return;
      if (!verdict.ok) return refuseUpgrade(socket, verdict);
      admitUpgrade(req, socket, head, verdict, acp);
    }, () => socket.destroy());
  });
  const admitUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer, verdict: { principal: string; caller?: Caller }, acp: WebSocketOptions['acp']) => {
    const admit = opts.limit?.(req, verdict.principal);
    const wait = admit?.() ?? 0;
    if (wait > 0) {
      return refuseUpgrade(socket, { status: 429, code: ErrorCodes.RateLimited, message: `Rate limited: retry after ${wait} s`, headers: { 'Retry-After': String(wait) } });
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('error', onSocketError);
      if (acp) return acp(ws, req, verdict.principal, admit, verdict.caller);
      const peer = onConnection(core, ws, limits, admit);
      peer.principal = verdict.principal;
      peer.caller = verdict.caller;
      peer.rate = rateSubject(req.socket.remoteAddress, verdict.principal);
    });
  };
  return wss;
}

/** Closes every connection with 1001 (going away); a peer that does not complete the close handshake in 1 s is cut off. */
export function closeWebSockets(wss: WebSocketServer) {
  for (const ws of wss.clients) {
    ws.close(1001, 'server shutting down');
    setTimeout(() => ws.terminate(), 1000).unref();
  }
}

function onConnection(core: WebSocketDeps, ws: WebSocket, limits: { sendBufferBytes: number }, admit?: () => number): JsonRpcPeer {
  const writer = new BatchingWriter(
    {
      write: (batch) => {
        const sock = socketOf(ws);
        // Fast path: no permessage-deflate on this connection, ws not mid-send. write()'s false is
        // the socket asking for drain, as below.
        if (ws.readyState === ws.OPEN && !ws.extensions && senderIdle(ws)) return sock.write(textFrames(batch));
        sock.cork();
        for (const json of batch) ws.send(json);
        sock.uncork();
        // Wait only when the socket itself asks to: only then will it emit 'drain'.
        return !sock.writableNeedDrain;
      },
      buffered: () => ws.bufferedAmount,
      onceDrain: (cb) => socketOf(ws).once('drain', cb),
      close: () => ws.close(),
    },
    limits.sendBufferBytes,
    (bytes, why) => {
      core.log.warn({ bytes, why }, 'websocket client is not reading; disconnecting');
      // The close frame queues behind what the client has not read; a client that reads again
      // in time sees the reason, one that does not is cut off (its buffers freed) shortly after.
      ws.close(WS_CLOSE_TOO_SLOW, overflowReason(why));
      setTimeout(() => ws.terminate(), OVERFLOW_GRACE_MS).unref();
    },
    core.sendBudget,
  );
  const reader = new WsReader(ws, (id, error) => writer.writeText(errorFrame(id, error)), admit);
  const peer = new JsonRpcPeer(core, 'websocket', reader, writer, {
    exit: () => ws.close(1000, 'exit'),
    revoked: () => {
      ws.close(4001, 'API key revoked');
      setTimeout(() => ws.terminate(), 1000).unref();
    },
  }).start();
  ws.on('close', () => peer.close());
  heartbeat(ws, timings.wsPingMs(), () => core.log.warn({ peer: peer.id }, 'websocket peer did not answer a ping; dropped'));
  core.trackPeer(peer);
  return peer;
}
