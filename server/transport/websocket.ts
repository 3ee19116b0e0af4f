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
import { BatchingWriter } from './writer.js';

export const RPC_PATH = '/rpc';

class WsReader extends CheckedReader {
  constructor(ws: WebSocket, reject: (id: string | number | null, e: RpcError) => void) {
    super(reject);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return this.refuse(RpcError.invalidRequest('send JSON-RPC messages as text frames'));
      this.receive(data.toString());
    });
    ws.on('close', () => this.closed());
    ws.on('error', (err) => this.fireError(err));
  }
}

type Socketish = { cork(): void; uncork(): void; once(ev: 'drain', cb: () => void): void };
const socketOf = (ws: WebSocket) => (ws as unknown as { _socket: Socketish })._socket;

/** A hook that may refuse an upgrade (auth, origin); returns an HTTP status and message to refuse. */
export type UpgradeGuard = (req: IncomingMessage) => { status: number; message: string } | undefined;

export interface WebSocketOptions {
  guard?: UpgradeGuard;
}

export function attachWebSocket(core: Core, server: Server, opts: WebSocketOptions = {}): WebSocketServer {
  const limits = core.config.limits();
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxBodyBytes });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const refusal = path !== RPC_PATH ? { status: 404, message: 'Not Found' } : opts.guard?.(req);
    if (refusal) {
      const body = JSON.stringify({ error: { code: -32014, message: refusal.message } });
      socket.end(`HTTP/1.1 ${refusal.status} ${refusal.message}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(core, ws, limits));
  });
  return wss;
}

function onConnection(core: Core, ws: WebSocket, limits: { sendBufferBytes: number }) {
  const writer = new BatchingWriter(
    {
      write: (batch) => {
        const sock = socketOf(ws);
        sock.cork();
        for (const json of batch) ws.send(json);
        sock.uncork();
        return ws.bufferedAmount < 1 << 20;
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
  const reader = new WsReader(ws, (id, error) => writer.writeFrame(errorFrame(id, error)));
  const peer = new JsonRpcPeer(core, 'websocket', reader, writer, { exit: () => ws.close(1000, 'exit') }).start();
  ws.on('close', () => peer.close());
  heartbeat(ws, wsPingInterval(), () => core.log.warn({ peer: peer.id }, 'websocket peer did not answer a ping; dropped'));
  core.trackPeer(peer);
}
