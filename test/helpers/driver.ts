/**
 * A transport-neutral client for conformance scenarios: the same calls over stdio, WebSocket
 * (JSON-RPC) and REST + SSE. A scenario calls protocol methods by name; the REST driver maps
 * them through the manifest's `rest` table (path parameters, body or query, `Prefer:
 * respond-async` for `async: true`) and follows events over SSE with eventsource-parser.
 *
 * Later issues add cases by writing scenarios against `Driver`; a case a transport cannot
 * express (server→client requests over REST) checks `driver.supports(...)`.
 */
import { createParser } from 'eventsource-parser';
import { methodTable } from '../../protocol/index.js';
import { spawnHttp, spawnStdio, tempDir, WsClient, type HttpServer, type Json, type RpcClient, type ServerOptions } from './rpc-client.js';

export const TRANSPORTS = ['stdio', 'websocket', 'rest'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export interface ErrorBody { code: number; message: string; data?: Json }
/** A call's outcome: the result, or the error object (with the HTTP status over REST). */
export interface Outcome { result?: Json; error?: ErrorBody; status?: number }

export interface Driver {
  readonly transport: Transport;
  readonly dataDir: string;
  /** JSON-RPC: initialize + initialized. REST: nothing (no handshake). */
  initialize(capabilities?: Json): Promise<Json | undefined>;
  /** Calls a protocol method; never throws for a protocol error. */
  call(method: string, params?: Json): Promise<Outcome>;
  /** Calls and returns the result; throws on an error. */
  request(method: string, params?: Json): Promise<Json>;
  /** Follows a session's events (null: every event), replaying after `since` first. Resolves once following. */
  subscribe(sessionId: string | null, since?: number): Promise<void>;
  /** Events received on the subscription of `sessionId` (null: the all-events one), in order. */
  events(sessionId: string | null): Json[];
  /** Waits for an event on a subscription. */
  waitForEvent(sessionId: string | null, type: string, match?: (e: Json) => boolean, ms?: number): Promise<Json>;
  /** Whether the transport can do something: 'serverRequests' (permission/request), or a method name. */
  supports(what: string): boolean;
  close(): Promise<void>;
}

type RestMapping = { method: string; path: string };
const table = methodTable as unknown as Record<string, { rest?: RestMapping }>;

async function waitUntil<T>(pred: () => T | undefined | false, ms: number, what: string, tick: (wake: () => void) => () => void): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, Math.min(left, 200));
      const off = tick(done);
      function done() { clearTimeout(t); off(); resolve(); }
    });
  }
}

/** JSON-RPC over stdio or WebSocket, on the raw test client. */
class RpcDriver implements Driver {
  constructor(readonly transport: Transport, readonly dataDir: string, private client: RpcClient, private closeAll: () => Promise<void>) {}

  async initialize(capabilities: Json = {}) { return this.client.initialize(capabilities); }

  async call(method: string, params?: Json): Promise<Outcome> {
    const r = await this.client.call(method, params);
    return r.error ? { error: r.error } : { result: r.result };
  }

  async request(method: string, params?: Json) { return this.client.request(method, params); }

  /**
   * Per subscription, the position after which it delivers (its `since`, or lastSeq when
   * live-only), and how many notifications had arrived before it was asked for.
   */
  private cutoffs = new Map<string, { after: number; from: number }>();

  async subscribe(sessionId: string | null, since?: number) {
    const from = this.client.notifications.length;
    const r = await this.client.request('session/subscribe', { ...(sessionId ? { sessionId } : {}), ...(since === undefined ? {} : { since }) });
    this.cutoffs.set(sessionId ?? '*', { after: since ?? r.lastSeq, from });
  }

  events(sessionId: string | null): Json[] {
    // One connection receives every subscription's events as session/event (an event of a session
    // that is also followed through the all-events subscription arrives twice). What one
    // subscription would have delivered: its session's events (or all), after its cutoff, once
    // each, among what arrived since it was asked for (so a resubscription counts only its replay).
    const sub = this.cutoffs.get(sessionId ?? '*');
    if (sub === undefined) return [];
    const cutoff = sub.after;
    const seen = new Set<number>();
    return this.client.notifications.slice(sub.from).filter((n) => n.method === 'session/event').map((n) => n.params).filter((e) => {
      if (sessionId !== null && e.sessionId !== sessionId) return false;
      if ((sessionId === null ? e.id : e.seq) <= cutoff || seen.has(e.id)) return false;
      seen.add(e.id);
      return true;
    });
  }

  waitForEvent(sessionId: string | null, type: string, match: (e: Json) => boolean = () => true, ms = 10_000) {
    return this.client.waitFor(() => this.events(sessionId).find((e) => e.type === type && match(e)), ms, `event ${type}`);
  }

  supports(what: string) { return what === 'serverRequests' || what in table; }
  close() { return this.closeAll(); }
}

/** An SSE stream read with fetch + eventsource-parser. */
export class SseStream {
  readonly events: Json[] = [];
  readonly comments: string[] = [];
  /** The raw `id:` fields, in order. */
  readonly ids: string[] = [];
  readonly names: string[] = [];
  private listeners = new Set<() => void>();
  private abort = new AbortController();
  ended = false;
  status = 0;
  headers?: Headers;
  errorBody?: Json;
  done: Promise<void> = Promise.resolve();

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
    const s = new SseStream();
    const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: s.abort.signal });
    s.status = res.status;
    s.headers = res.headers;
    if (!res.ok) {
      s.errorBody = await res.json();
      s.ended = true;
      return s;
    }
    const parser = createParser({
      onEvent: (ev) => {
        s.events.push(JSON.parse(ev.data));
        s.ids.push(ev.id ?? '');
        s.names.push(ev.event ?? 'message');
        s.wake();
      },
      onComment: (c) => { s.comments.push(c.trim()); s.wake(); },
    });
    s.done = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
      } catch { /* aborted or reset */ }
      s.ended = true;
      s.wake();
    })();
    return s;
  }

  private wake() { for (const l of [...this.listeners]) l(); }

  waitFor<T>(pred: () => T | undefined | false, ms = 10_000, what = 'SSE condition'): Promise<T> {
    return waitUntil(pred, ms, what, (wake) => { this.listeners.add(wake); return () => this.listeners.delete(wake); });
  }

  async close() {
    this.abort.abort();
    await this.done;
  }
}

/** REST + SSE over fetch. */
class RestDriver implements Driver {
  readonly transport = 'rest' as const;
  private streams = new Map<string, SseStream>();
  /** Every HTTP status seen, by method, for REST-only checks. */
  readonly statuses: Array<{ method: string; status: number }> = [];

  constructor(readonly server: HttpServer) {}
  get dataDir() { return this.server.dataDir; }
  get url() { return this.server.url; }

  async initialize() { return undefined; }

  async call(method: string, params: Json = {}): Promise<Outcome> {
    const rest = table[method]?.rest;
    if (!rest) throw new Error(`${method} has no REST route`);
    const rest2: Record<string, Json> = { ...params };
    const path = rest.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const v = rest2[name];
      delete rest2[name];
      return encodeURIComponent(String(v));
    });
    const headers: Record<string, string> = {};
    if (rest2.async === true && method === 'session/message') {
      delete rest2.async;
      headers.Prefer = 'respond-async';
    }
    let url = this.url + path;
    let body: string | undefined;
    if (rest.method === 'GET' || rest.method === 'DELETE') {
      const q = new URLSearchParams(Object.entries(rest2).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
      if ([...q].length) url += `?${q}`;
    } else {
      body = JSON.stringify(rest2);
      headers['Content-Type'] = 'application/json';
    }
    const res = await fetch(url, { method: rest.method, headers, body });
    const text = await res.text();
    this.statuses.push({ method, status: res.status });
    if (!(res.headers.get('content-type') ?? '').startsWith('application/json')) throw new Error(`${method}: ${res.status} without a JSON body: ${text}`);
    const json = JSON.parse(text);
    return res.ok ? { result: json, status: res.status } : { error: json.error, status: res.status };
  }

  async request(method: string, params?: Json) {
    const r = await this.call(method, params);
    if (r.error) throw Object.assign(new Error(r.error.message), r.error);
    return r.result;
  }

  async subscribe(sessionId: string | null, since?: number) {
    const path = sessionId === null ? '/v1/events' : `/v1/session/${encodeURIComponent(sessionId)}/events`;
    const s = await SseStream.open(this.url + path, since === undefined ? {} : { 'Last-Event-ID': String(since) });
    if (s.status !== 200) throw Object.assign(new Error(s.errorBody?.error?.message ?? `SSE ${s.status}`), s.errorBody?.error ?? {});
    await this.streams.get(sessionId ?? '*')?.close();
    this.streams.set(sessionId ?? '*', s);
  }

  events(sessionId: string | null): Json[] { return [...(this.streams.get(sessionId ?? '*')?.events ?? [])]; }

  waitForEvent(sessionId: string | null, type: string, match: (e: Json) => boolean = () => true, ms = 10_000) {
    const s = this.streams.get(sessionId ?? '*');
    if (!s) throw new Error(`not subscribed to ${sessionId ?? 'all events'}`);
    return s.waitFor(() => s.events.find((e) => e.type === type && match(e)), ms, `event ${type}`);
  }

  supports(what: string) { return what !== 'serverRequests' && !!table[what]?.rest; }

  async close() {
    for (const s of this.streams.values()) await s.close();
    await this.server.stop();
  }
}

/** Opens a driver on a fresh server (fresh data dir) over a transport. */
export async function openDriver(transport: Transport, o: ServerOptions = {}): Promise<Driver> {
  const dataDir = o.dataDir ?? tempDir();
  if (transport === 'stdio') {
    const client = spawnStdio({ ...o, dataDir });
    return new RpcDriver('stdio', dataDir, client, () => client.close());
  }
  const server = await spawnHttp({ ...o, dataDir });
  if (transport === 'rest') return new RestDriver(server);
  const client = await WsClient.connect(server.wsUrl);
  return new RpcDriver('websocket', dataDir, client, async () => { await client.close(); await server.stop(); });
}
