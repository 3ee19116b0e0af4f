/**
 * A JSON-RPC 2.0 channel over any message transport that carries one JSON text per message
 * (a WebSocket in a browser or in Node). Owns ids, pending requests, $/cancelRequest and the
 * answers to server-to-client requests. No Node APIs.
 */
import {
  ConnectionClosedError, RpcResponseError, toErrorObject,
  type Channel, type NotificationHandler, type ServerRequestHandler,
} from './channel.js';

/** The least a transport must offer: send a text, deliver texts, report its close. */
export interface TextTransport {
  send(text: string): void;
  close(): void;
  onText(cb: (text: string) => void): void;
  onClose(cb: (error?: Error) => void): void;
}

type Id = number | string;
interface Pending { resolve(v: unknown): void; reject(e: Error): void; }

export class MessageChannel implements Channel {
  readonly serverRequests = true;
  readonly handshake = true;
  private nextId = 1;
  private pending = new Map<Id, Pending>();
  private inbound = new Map<Id, AbortController>();
  private notificationHandler: NotificationHandler = () => {};
  private requestHandler: ServerRequestHandler = async (method) => {
    throw new RpcResponseError(-32601, `unhandled server request: ${method}`);
  };
  private closeHandlers: Array<(error?: Error) => void> = [];
  private closed = false;
  private closingLocally = false;

  constructor(private transport: TextTransport) {
    transport.onText((text) => this.receive(text));
    transport.onClose((error) => this.finish(error));
  }

  request(method: string, params: unknown, signal?: AbortSignal): Promise<unknown> {
    if (this.closed) return Promise.reject(new ConnectionClosedError());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = () => this.notify('$/cancelRequest', { id });
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        resolve: (v) => { done(); resolve(v); },
        reject: (e) => { done(); reject(e); },
      });
      this.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  notify(method: string, params: unknown) {
    if (!this.closed) this.send({ jsonrpc: '2.0', method, params });
  }

  onNotification(handler: NotificationHandler) { this.notificationHandler = handler; }
  onRequest(handler: ServerRequestHandler) { this.requestHandler = handler; }
  onClose(handler: (error?: Error) => void) { this.closeHandlers.push(handler); }

  async close() {
    if (this.closed) return;
    this.closingLocally = true;
    this.transport.close();
    this.finish();
  }

  private send(msg: object) {
    this.transport.send(JSON.stringify(msg));
  }

  private receive(text: string) {
    let msg: { id?: Id | null; method?: string; params?: unknown; result?: unknown; error?: { code: number; message: string; data?: unknown } };
    try {
      msg = JSON.parse(text);
    } catch {
      return; // not ours to answer: the server never sends invalid JSON
    }
    if (typeof msg.method === 'string') {
      if (msg.id === undefined || msg.id === null) {
        if (msg.method === '$/cancelRequest') this.inbound.get((msg.params as { id: Id }).id)?.abort();
        else this.notificationHandler(msg.method, msg.params);
        return;
      }
      void this.answer(msg.id, msg.method, msg.params);
      return;
    }
    if (msg.id === undefined || msg.id === null) return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.error) p.reject(new RpcResponseError(msg.error.code, msg.error.message, msg.error.data));
    else p.resolve(msg.result);
  }

  private async answer(id: Id, method: string, params: unknown) {
    const abort = new AbortController();
    this.inbound.set(id, abort);
    try {
      const result = await this.requestHandler(method, params, abort.signal);
      if (!this.closed) this.send({ jsonrpc: '2.0', id, result: result ?? null });
    } catch (err) {
      if (!this.closed) this.send({ jsonrpc: '2.0', id, error: toErrorObject(err) });
    } finally {
      this.inbound.delete(id);
    }
  }

  private finish(error?: Error) {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new ConnectionClosedError());
    this.pending.clear();
    for (const a of this.inbound.values()) a.abort();
    const reason = this.closingLocally ? undefined : (error ?? new ConnectionClosedError());
    for (const h of this.closeHandlers) h(reason);
  }
}
