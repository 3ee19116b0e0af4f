/**
 * WebSocket connector: JSON-RPC, one message per text frame, at ws(s)://host:port/rpc.
 * The API key goes in `Authorization: Bearer <key>` where the socket implementation can set
 * headers (Node's `ws`), else (browsers) as the subprotocol `agentd.bearer.<key>` next to `agentd`.
 * Uses the global WebSocket unless `createSocket` is given. No Node APIs.
 */
import { ConnectionClosedError, type Channel, type Connector } from '../channel.js';
import { MessageChannel, type TextTransport } from '../message-channel.js';

/** The subprotocol that names the client's protocol; the server picks it. */
export const WS_PROTOCOL = 'agentd';
/** Prefix of the subprotocol that carries an API key from a browser. */
export const WS_TOKEN_PREFIX = 'agentd.bearer.';

/** The part of the WHATWG WebSocket the connector uses (browsers, Node 22+, and `ws`). */
export interface WebSocketLike {
  readonly readyState: number;
  send(text: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (ev: any) => void): void; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface WebSocketConnectorOptions {
  /** ws://127.0.0.1:4096/rpc */
  url: string;
  /** An agentd API key, if the server wants one. */
  apiKey?: string;
  /**
   * Makes the socket. `headers` is set when the key should travel as a header; an
   * implementation that cannot set headers may ignore it only if `protocols` carries the key.
   * Default: the global WebSocket, with the key as a subprotocol.
   */
  createSocket?: (url: string, protocols: string[], headers: Record<string, string>) => WebSocketLike;
  /** Send the key as `Authorization` (true with a createSocket that honours headers). Default: false. */
  headerAuth?: boolean;
  /** Give up opening after this many ms. Default 10000. */
  openTimeoutMs?: number;
}

export function websocketConnector(opts: WebSocketConnectorOptions): Connector {
  return {
    kind: 'websocket',
    connect: () => openWebSocket(opts),
  };
}

function openWebSocket(opts: WebSocketConnectorOptions): Promise<Channel> {
  const headers: Record<string, string> = {};
  const protocols = [WS_PROTOCOL];
  if (opts.apiKey) {
    if (opts.headerAuth) headers.authorization = `Bearer ${opts.apiKey}`;
    else protocols.push(WS_TOKEN_PREFIX + opts.apiKey);
  }
  const create = opts.createSocket ?? ((url: string, p: string[]) => {
    const Ctor = (globalThis as { WebSocket?: new (url: string, protocols: string[]) => WebSocketLike }).WebSocket;
    if (!Ctor) throw new Error('no global WebSocket here: pass createSocket (e.g. nodeWebSocket from protocol/client/node)');
    return new Ctor(url, p);
  });
  return new Promise((resolve, reject) => {
    let ws: WebSocketLike;
    try {
      ws = create(opts.url, protocols, headers);
    } catch (err) {
      reject(err);
      return;
    }
    let opened = false;
    const textHandlers: Array<(t: string) => void> = [];
    const closeHandlers: Array<(e?: Error) => void> = [];
    let lastError: Error | undefined;
    const timer = setTimeout(() => {
      if (opened) return;
      ws.close();
      reject(new ConnectionClosedError(`websocket: no connection to ${opts.url} within ${opts.openTimeoutMs ?? 10_000} ms`));
    }, opts.openTimeoutMs ?? 10_000);
    ws.addEventListener('message', (ev: { data: unknown }) => {
      const text = typeof ev.data === 'string' ? ev.data : String(ev.data);
      for (const h of textHandlers) h(text);
    });
    ws.addEventListener('error', (ev: { message?: string; error?: Error }) => {
      lastError = ev.error ?? new Error(ev.message ?? 'websocket error');
    });
    ws.addEventListener('close', (ev: { code?: number; reason?: string }) => {
      clearTimeout(timer);
      if (!opened) {
        reject(new ConnectionClosedError(`websocket: could not connect to ${opts.url}${lastError ? `: ${lastError.message}` : ''}`));
        return;
      }
      const err = new ConnectionClosedError(`websocket closed (${ev.code ?? 'no code'}${ev.reason ? ` ${ev.reason}` : ''})`);
      for (const h of closeHandlers) h(err);
    });
    ws.addEventListener('open', () => {
      opened = true;
      clearTimeout(timer);
      const transport: TextTransport = {
        send: (text) => ws.send(text),
        close: () => ws.close(1000, 'client closed'),
        onText: (cb) => textHandlers.push(cb),
        onClose: (cb) => closeHandlers.push(cb),
      };
      resolve(new MessageChannel(transport));
    });
  });
}
