/**
 * WebSocket transport (ws) at /rpc: one JSON-RPC message per text frame, on the HTTP server
 * that also serves the REST bridge. Batches are corked into one socket write.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Core } from '../core.js';
import { RpcError } from '../rpc/errors.js';
import { CheckedReader, errorFrame } from '../rpc/frames.js';
import { JsonRpcPeer } from '../rpc/jsonrpc-peer.js';
import { heartbeat, wsPingInterval } from './liveness.js';
import { WS_PROTOCOL } from '../security/guard.js';
import { BatchingWriter } from './writer.js';

export const RPC_PATH = '/rpc';

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

type Socketish = { cork(): void; uncork(): void; write(b: Buffer): boolean; once(ev: 'drain', cb: () => void): void; writableNeedDrain: boolean };
const socketOf = (ws: WebSocket) => (ws as unknown as { _socket: Socketish })._socket;
/** ws's Sender is idle (nothing queued behind a compression or a blob): our bytes cannot interleave with its. */
const senderIdle = (ws: WebSocket) => {
  const sender = (ws as unknown as { _sender?: { _state?: number; _queue?: unknown[] } })._sender;
  return sender?._state === 0 && sender._queue?.length === 0;
};

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

/** Decides an upgrade: refuse with a status, or admit with the principal that rate limits count against. */
export type UpgradeGuard = (req: IncomingMessage) => { ok: false; status: number; code: number; message: string } | { ok: true; principal: string };

export interface WebSocketOptions {
  guard?: UpgradeGuard;
  /** Rate limiting of inbound messages per principal: 0 admits, otherwise seconds to wait. */
  limit?: (principal: string) => number;
}

export function attachWebSocket(core: Core, server: Server, opts: WebSocketOptions = {}): WebSocketServer {
  const limits = core.config.limits();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxBodyBytes,
    // Browsers pass the API key as a subprotocol; never echo that one back, pick `agentd`.
    handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const verdict = path !== RPC_PATH
      ? { ok: false as const, status: 404, code: -32601, message: `No WebSocket endpoint at ${path}; use ${RPC_PATH}` }
      : opts.guard?.(req) ?? { ok: true as const, principal: `ip:${req.socket.remoteAddress}` };
    if (!verdict.ok) {
      const body = JSON.stringify({ error: { code: verdict.code, message: verdict.message } });
      const reason = verdict.status === 401 ? 'Unauthorized' : verdict.status === 403 ? 'Forbidden' : 'Not Found';
      socket.end(`HTTP/1.1 ${verdict.status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    const admit = opts.limit ? () => opts.limit!(verdict.principal) : undefined;
    wss.handleUpgrade(req, socket, head, (ws) => { onConnection(core, ws, limits, admit).principal = verdict.principal; });
  });
  return wss;
}

/** Closes every connection with 1001 (going away); a peer that does not complete the close handshake in 1 s is cut off. */
export function closeWebSockets(wss: WebSocketServer) {
  for (const ws of wss.clients) {
    ws.close(1001, 'server shutting down');
    setTimeout(() => ws.terminate(), 1000).unref();
  }
}

function onConnection(core: Core, ws: WebSocket, limits: { sendBufferBytes: number }, admit?: () => number): JsonRpcPeer {
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
    (bytes) => {
      core.log.warn({ bytes }, 'websocket client is not reading; disconnecting');
      ws.terminate();
    },
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
  heartbeat(ws, wsPingInterval(), () => core.log.warn({ peer: peer.id }, 'websocket peer did not answer a ping; dropped'));
  core.trackPeer(peer);
  return peer;
}
