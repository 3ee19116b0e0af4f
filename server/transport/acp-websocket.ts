/**
 * ACP over WebSocket at `/acp` on `agentd serve`: one JSON-RPC message per text frame (the shape
 * of ACP's draft WebSocket transport), served by the same agent as `agentd acp` (server/acp/agent.ts). The
 * agent's agentd side is an in-memory peer of this server's own core (the stdio framing over a
 * pair of streams), so its sessions, approvals and events are the server's, live for its other
 * clients. The upgrade was admitted as /rpc's (API key, Host, Origin, rate) by ./websocket.ts;
 * the principal it was admitted with is the peer's, so a revoked key ends it too.
 */
import type * as acp from '@agentclientprotocol/sdk';
import { PassThrough } from 'node:stream';
import type { WebSocket } from 'ws';
import { ErrorCodes } from '../../protocol/index.js';
import { pipeConnector } from '../../protocol/client/node.js';
import { timings } from '../config/defaults.js';
import type { Peer } from '../rpc/peer.js';
import type { RateSubject } from '../security/rate.js';
import type { Caller } from '../security/caller.js';
import { serveAcp } from '../acp/agent.js';
import { heartbeat } from './liveness.js';
import { serveStdio, type StdioDeps } from './stdio.js';

export interface AcpSocketDeps extends StdioDeps {
  version: string;
  trackPeer(peer: Peer): void;
}

/** Incoming messages held before the socket is paused (the agent reads them in order). */
const READ_AHEAD = 64;
/** Close code of a client that does not read (as /rpc's). */
const CLOSE_TOO_SLOW = 1008;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A WebSocket as an ACP Stream: text frames in and out, parse errors answered, bounded both ways. */
function socketStream(ws: WebSocket, maxBuffered: number, admit?: () => number): acp.Stream {
  const reply = (id: unknown, code: number, message: string) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ jsonrpc: '2.0', id: typeof id === 'string' || typeof id === 'number' ? id : null, error: { code, message } }));
  };
  const readable = new ReadableStream<acp.AnyMessage>({
    start(controller) {
      ws.on('message', (data, isBinary) => {
        if (isBinary) return reply(null, ErrorCodes.InvalidRequest, 'Invalid request: send ACP messages as text frames');
        let msg: unknown;
        try {
          msg = JSON.parse(data.toString());
        } catch {
          return reply(null, ErrorCodes.ParseError, 'Parse error');
        }
        if (!isObject(msg) || msg.jsonrpc !== '2.0') return reply(isObject(msg) ? msg.id : null, ErrorCodes.InvalidRequest, 'Invalid request: one JSON-RPC 2.0 object per frame');
        const wait = admit?.() ?? 0;
        if (wait > 0) {
          if (msg.method !== undefined && msg.id !== undefined) reply(msg.id, ErrorCodes.RateLimited, `Rate limited: retry after ${wait} s`);
          return;
        }
        controller.enqueue(msg as acp.AnyMessage);
        if ((controller.desiredSize ?? 1) <= 0) ws.pause();
      });
      ws.on('close', () => { try { controller.close(); } catch { /* already closed */ } });
      ws.on('error', () => ws.terminate());
    },
    pull() { ws.resume(); },
  }, { highWaterMark: READ_AHEAD });
  const writable = new WritableStream<acp.AnyMessage>({
    write(msg) {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(JSON.stringify(msg));
      if (ws.bufferedAmount > maxBuffered) {
        ws.close(CLOSE_TOO_SLOW, 'the client does not read');
        setTimeout(() => ws.terminate(), 1000).unref();
      }
    },
    close() { ws.close(1000); },
    abort() { ws.terminate(); },
  });
  return { readable, writable };
}

export interface AcpSocketOptions {
  /** Who was admitted (`key:<id>` or `ip:<addr>`), as for /rpc. */
  principal: string;
  /** The key's user and rights (none: the local user). */
  caller?: Caller;
  rate: RateSubject;
  /** The per-message rate limit of the upgrade: 0 admits, otherwise seconds to wait. */
  admit?: () => number;
  /** This server's /rpc URL (from the checked Host header): the terminal auth method logs in there. */
  rpcUrl: string;
}

/** Serves one ACP connection on an admitted WebSocket. */
export function serveAcpSocket(core: AcpSocketDeps, ws: WebSocket, { principal, caller, rate, admit, rpcUrl }: AcpSocketOptions): void {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  let done!: (why: string) => void;
  const exited = new Promise<string>((resolve) => { done = resolve; });
  const end = (why: string) => { toServer.end(); toClient.end(); done(why); };
  const peer = serveStdio(core, { input: toServer, output: toClient, onExit: () => end('exit') });
  peer.principal = principal;
  peer.caller = caller;
  peer.rate = rate;
  core.trackPeer(peer);
  const connector = pipeConnector(async () => ({ readable: toClient, writable: toServer, exited, kill: () => end('killed') }), { kind: 'in-process' });
  const stop = heartbeat(ws, timings.wsPingMs(), () => core.log.warn({ peer: peer.id }, 'ACP WebSocket peer did not answer a ping; dropped'));
  // The terminal auth method runs `agentd auth login --url` against this server (the editor's machine may be another).
  void serveAcp(socketStream(ws, core.config.limits().sendBufferBytes, admit), { connector, version: core.version, authArgs: ['auth', 'login', '--url', rpcUrl] })
    .catch((err) => core.log.warn({ err: String(err) }, 'ACP WebSocket connection failed'))
    .finally(() => {
      stop();
      end('closed');
      peer.close();
      if (ws.readyState === ws.OPEN) ws.close(1000);
    });
}
