/**
 * REST + SSE connector: requests become the `/v1` routes of protocol/methods.json (`rest`
 * mappings), subscriptions become Server-Sent Event streams (`event:` = type, `id:` = seq,
 * `Last-Event-ID` replays). Uses fetch and eventsource-parser only, so it runs in browsers too.
 * There are no server-to-client requests over REST: approvals arrive as `permission.requested`
 * events and are answered with `tool/approve` (the client does that for you).
 */
import { createParser } from 'eventsource-parser';
import { isClientRequest, methodTable } from '../../generated/methods.js';
import type { Event } from '../../generated/types.js';
import {
  ConnectionClosedError, RpcResponseError,
  type Channel, type Connector, type NotificationHandler,
} from '../channel.js';

export interface RestConnectorOptions {
  /** The server's base URL, e.g. http://127.0.0.1:4096 (the routes add /v1/...). */
  baseUrl: string;
  /** An agentd API key: sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** fetch to use. Default: the global fetch. */
  fetch?: typeof fetch;
}

export function restConnector(opts: RestConnectorOptions): Connector {
  return {
    kind: 'rest',
    connect: async () => new RestChannel(opts),
  };
}

type Params = Record<string, unknown>;

export class RestChannel implements Channel {
  readonly serverRequests = false;
  readonly handshake = false;
  private notificationHandler: NotificationHandler = () => {};
  private closeHandlers: Array<(error?: Error) => void> = [];
  private streams = new Map<string, AbortController>();
  private closed = false;
  private readonly base: string;
  private readonly fetch: typeof fetch;

  constructor(private opts: RestConnectorOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.opts.apiKey ? { authorization: `Bearer ${this.opts.apiKey}` } : {}), ...extra };
  }

  async request(method: string, params: unknown, signal?: AbortSignal): Promise<unknown> {
    if (this.closed) throw new ConnectionClosedError();
    const p = { ...((params ?? {}) as Params) };
    if (method === 'session/subscribe') return this.subscribe(p.sessionId as string | undefined, p.since as number | undefined);
    if (method === 'session/unsubscribe') {
      const key = (p.sessionId as string | undefined) ?? '*';
      const s = this.streams.get(key);
      s?.abort();
      this.streams.delete(key);
      return { unsubscribed: Boolean(s) };
    }
    if (method === 'shutdown') return {};
    const entry = isClientRequest(method) ? methodTable[method] : undefined;
    if (!entry?.rest) throw new RpcResponseError(-32601, `no REST route for ${method}`);
    const { method: verb, path } = entry.rest;
    const url = new URL(this.base + path.replace(/\{(\w+)\}/g, (_m, name: string) => {
      const v = p[name] ?? (name === 'toolName' ? '-' : undefined);
      delete p[name];
      if (v === undefined) throw new RpcResponseError(-32602, `${method}: ${name} is required`, { field: name, reason: 'is required', errors: [{ field: name, reason: 'is required' }] });
      return encodeURIComponent(String(v));
    }));
    const headers = this.headers({ accept: 'application/json' });
    let body: string | undefined;
    if (method === 'session/message' && p.async) headers.prefer = 'respond-async';
    if (verb === 'GET' || verb === 'DELETE') {
      for (const [k, v] of Object.entries(p)) if (v !== undefined) url.searchParams.set(k, typeof v === 'string' ? v : JSON.stringify(v));
    } else {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(p);
    }
    let res: Response;
    try {
      res = await this.fetch(url, { method: verb, headers, body, signal });
    } catch (err) {
      if (signal?.aborted) throw new RpcResponseError(-32800, 'request cancelled');
      throw new ConnectionClosedError(`${verb} ${url.pathname}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new RpcResponseError(-32603, `${verb} ${url.pathname}: HTTP ${res.status}, not JSON`, undefined, res.status);
    }
    if (!res.ok) {
      const e = (json as { error?: { code: number; message: string; data?: unknown } }).error;
      throw new RpcResponseError(e?.code ?? -32603, e?.message ?? `HTTP ${res.status}`, e?.data, res.status);
    }
    return json;
  }

  /** Opens the SSE stream (one per session, or `*` for /v1/events) and resolves once it answered. */
  private async subscribe(sessionId: string | undefined, since: number | undefined) {
    const key = sessionId ?? '*';
    this.streams.get(key)?.abort();
    const abort = new AbortController();
    this.streams.set(key, abort);
    const path = sessionId ? `/v1/session/${encodeURIComponent(sessionId)}/events` : '/v1/events';
    const headers = this.headers({ accept: 'text/event-stream' });
    if (since !== undefined) headers['last-event-id'] = String(since);
    let res: Response;
    try {
      res = await this.fetch(this.base + path, { headers, signal: abort.signal });
    } catch (err) {
      this.streams.delete(key);
      throw new ConnectionClosedError(`GET ${path}: ${(err as Error).message}`);
    }
    if (!res.ok || !res.body) {
      this.streams.delete(key);
      const text = await res.text().catch(() => '');
      let e: { code?: number; message?: string; data?: unknown } | undefined;
      try { e = JSON.parse(text).error; } catch { /* not JSON */ }
      throw new RpcResponseError(e?.code ?? -32603, e?.message ?? `GET ${path}: HTTP ${res.status}`, e?.data, res.status);
    }
    void this.read(key, res.body, abort.signal);
    let lastSeq = since ?? 0;
    if (sessionId) {
      const s = (await this.request('session/get', { sessionId }).catch(() => undefined)) as { session?: { lastSeq?: number }; lastSeq?: number } | undefined;
      lastSeq = s?.session?.lastSeq ?? s?.lastSeq ?? lastSeq;
    }
    return { subscribed: true, ...(sessionId ? { sessionId } : {}), lastSeq };
  }

  private async read(key: string, body: ReadableStream<Uint8Array>, signal: AbortSignal) {
    const parser = createParser({
      onEvent: (msg) => {
        let data: unknown;
        try { data = JSON.parse(msg.data); } catch { return; }
        const ev = data as Partial<Event>;
        const event: Event = typeof ev.seq === 'number' && typeof ev.type === 'string'
          ? (ev as Event)
          : { id: Number(msg.id ?? 0), sessionId: key === '*' ? null : key, seq: Number(msg.id ?? 0), type: msg.event as Event['type'], time: new Date().toISOString(), data: data as object };
        this.notificationHandler('session/event', event);
      },
    });
    const decoder = new TextDecoder();
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } catch {
      // aborted or dropped: handled below
    }
    if (signal.aborted || this.closed) return;
    // The server ended a stream we still want: the connection is lost; the client reconnects.
    this.streams.delete(key);
    this.fail(new ConnectionClosedError(`event stream for ${key === '*' ? 'all sessions' : key} ended`));
  }

  notify() {
    // REST has no notifications to send (initialized, exit, $/cancelRequest do not apply).
  }

  onNotification(handler: NotificationHandler) { this.notificationHandler = handler; }
  onRequest() { /* no server-to-client requests over REST */ }
  onClose(handler: (error?: Error) => void) { this.closeHandlers.push(handler); }

  async close() {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) s.abort();
    this.streams.clear();
    for (const h of this.closeHandlers) h(undefined);
  }

  private fail(err: Error) {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) s.abort();
    this.streams.clear();
    for (const h of this.closeHandlers) h(err);
  }
}
