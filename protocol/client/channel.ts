/**
 * What a connector hands the client: one open connection that can send requests and
 * notifications and delivers the server's notifications and requests. Free of Node APIs.
 */

/** A JSON-RPC error as the server sent it (or as the REST bridge sent `{"error": {...}}`). */
export class RpcResponseError extends Error {
  constructor(readonly code: number, message: string, readonly data?: unknown, readonly status?: number) {
    super(message);
    this.name = 'RpcResponseError';
  }
}

/** The connection closed (or could not be opened); pending requests fail with this. */
export class ConnectionClosedError extends Error {
  constructor(message = 'connection closed') {
    super(message);
    this.name = 'ConnectionClosedError';
  }
}

export type NotificationHandler = (method: string, params: unknown) => void;
export type ServerRequestHandler = (method: string, params: unknown, signal: AbortSignal) => Promise<unknown>;

export interface Channel {
  /** Sends a request; rejects with RpcResponseError or ConnectionClosedError. */
  request(method: string, params: unknown, signal?: AbortSignal): Promise<unknown>;
  notify(method: string, params: unknown): void;
  /** Whether the server can send requests (permission/request) over this channel. */
  readonly serverRequests: boolean;
  /** Whether the channel needs the initialize handshake (JSON-RPC yes, REST no). */
  readonly handshake: boolean;
  /** Called with every notification the server sends. */
  onNotification(handler: NotificationHandler): void;
  /** Called with every request the server sends; its result (or thrown error) is the answer. */
  onRequest(handler: ServerRequestHandler): void;
  /** Called once when the channel closes, with the reason when it was not a local close(). */
  onClose(handler: (error?: Error) => void): void;
  close(): Promise<void>;
}

/** Opens channels: one per (re)connection. */
export interface Connector {
  /** A short name for messages: 'stdio', 'websocket', 'rest'. */
  readonly kind: string;
  connect(): Promise<Channel>;
}

/** Turns whatever a request handler threw into the error object sent back to the server. */
export function toErrorObject(err: unknown): { code: number; message: string; data?: unknown } {
  if (err instanceof RpcResponseError) return { code: err.code, message: err.message, ...(err.data === undefined ? {} : { data: err.data }) };
  return { code: -32603, message: err instanceof Error ? err.message : String(err) };
}
