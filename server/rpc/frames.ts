/**
 * Inbound checks before a message reaches vscode-jsonrpc, which would otherwise drop or
 * merely log malformed input. Every bad frame gets a JSON-RPC error response instead.
 */
import { AbstractMessageReader, type DataCallback, type Disposable, type Message, type MessageReader } from 'vscode-jsonrpc/node';
import { RpcError } from './errors.js';

export type Classified = { ok: true; message: Message } | { ok: false; id: string | number | null; error: RpcError };
type Id = string | number;

const validId = (id: unknown): id is Id => typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));

/** Deepest nesting of arrays and objects a message may have (the protocol needs under 10). */
export const MAX_JSON_DEPTH = 64;
/** Arrays and objects one message may hold: 4 MB of `[[],[],...]` would otherwise become ~75 MB of objects. */
export const MAX_JSON_CONTAINERS = 20_000;
/** Messages read from one connection and not yet dispatched (vscode-jsonrpc hands on one per event-loop turn). */
export const MAX_QUEUED_MESSAGES = 1_000;
/** Bytes of such messages per connection, and over all connections of the process. */
export const MAX_QUEUED_BYTES = 16 * 1024 * 1024;
export const MAX_QUEUED_BYTES_TOTAL = 256 * 1024 * 1024;

/**
 * One linear pass over the text before JSON.parse, so a message that nests too deep or holds
 * too many containers is refused without building any of it. Also picks up a top-level `"id"`
 * (a number or a string without escapes) so the refusal can carry it. Strings are skipped with
 * indexOf. Malformed JSON is left for JSON.parse to name.
 */
export function scanJson(text: string): { depth: number; containers: number; id: Id | null; tooDeep: boolean; tooMany: boolean } {
  let depth = 0;
  let max = 0;
  let containers = 0;
  let id: Id | null = null;
  let key: string | null = null;
  let expectKey = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) { j = n; break; }
        let b = q - 1;
        while (b >= j && text.charCodeAt(b) === 0x5c) b--;
        if ((q - 1 - b) % 2 === 0) { j = q; break; }
        escaped = true;
        j = q + 1;
      }
      if (depth === 1) {
        const str = escaped ? null : text.slice(i + 1, j);
        if (expectKey) key = str;
        else if (key === 'id' && str !== null) id = str;
      }
      expectKey = false;
      i = j;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++;
      containers++;
      if (depth > max) max = depth;
      if (depth > MAX_JSON_DEPTH || containers > MAX_JSON_CONTAINERS) break;
      expectKey = c === 0x7b && depth === 1;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    } else if (depth === 1) {
      if (c === 0x2c /* , */) expectKey = true;
      else if (c === 0x3a /* : */) expectKey = false;
      else if (key === 'id' && (c === 0x2d || (c >= 0x30 && c <= 0x39))) {
        let j = i + 1;
        while (j < n && /[0-9eE.+-]/.test(text[j])) j++;
        const v = Number(text.slice(i, j));
        if (Number.isFinite(v)) id = v;
        i = j - 1;
        key = null;
      }
    }
  }
  return { depth: max, containers, id, tooDeep: max > MAX_JSON_DEPTH, tooMany: containers > MAX_JSON_CONTAINERS };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Notifications that vscode-jsonrpc itself acts on, or that the transport handles, checked here:
 * its cancel handler reads `params.id` from the reader's own call stack, so a bad one threw
 * out of the transport and killed the process. The result is the reason to refuse, or null.
 */
function checkProtocolNotification(method: string, params: unknown): string | null {
  switch (method) {
    case '$/cancelRequest':
      return isObject(params) && validId(params.id) ? null : '`params.id` must be the id (a string or a number) of the request to cancel';
    case '$/progress':
      return isObject(params) && validId(params.token) ? null : '`params` must be `{token, value}` with a string or number token';
    case '$/setTrace':
      return isObject(params) && ['off', 'messages', 'compact', 'verbose'].includes(params.value as string) ? null : '`params.value` must be "off", "messages", "compact" or "verbose"';
    case '$/logTrace':
      return isObject(params) && typeof params.message === 'string' ? null : '`params.message` must be a string';
    case 'initialized':
    case 'exit':
      // LSP-lenient: any fields are ignored, but the params must be by name (or absent).
      return params === undefined || params === null || isObject(params) ? null : '`params` must be an object';
    default:
      return null;
  }
}

export function classify(text: string): Classified {
  const scan = scanJson(text);
  if (scan.tooDeep) return { ok: false, id: scan.id, error: RpcError.invalidRequest(`the message nests deeper than ${MAX_JSON_DEPTH} levels`, { limit: MAX_JSON_DEPTH }) };
  if (scan.tooMany) return { ok: false, id: scan.id, error: RpcError.invalidRequest(`the message holds more than ${MAX_JSON_CONTAINERS} arrays and objects`, { limit: MAX_JSON_CONTAINERS }) };
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch (err) {
    return { ok: false, id: null, error: RpcError.parse((err as Error).message) };
  }
  if (Array.isArray(msg)) return { ok: false, id: null, error: RpcError.invalidRequest('batches are not supported; send one message at a time') };
  if (msg === null || typeof msg !== 'object') return { ok: false, id: null, error: RpcError.invalidRequest('a message must be a JSON object') };
  const m = msg as Record<string, unknown>;
  const id = validId(m.id) ? m.id : null;
  if (m.jsonrpc !== '2.0') return { ok: false, id, error: RpcError.invalidRequest('`jsonrpc` must be "2.0"') };
  if ('method' in m) {
    if (typeof m.method !== 'string' || !m.method) return { ok: false, id, error: RpcError.invalidRequest('`method` must be a non-empty string') };
    if ('id' in m && !validId(m.id)) return { ok: false, id: null, error: RpcError.invalidRequest('`id` must be a string or a number') };
    if ('params' in m && (m.params === null || typeof m.params !== 'object')) {
      return { ok: false, id, error: RpcError.invalidRequest('`params` must be an object') };
    }
    if (!('id' in m)) {
      const bad = checkProtocolNotification(m.method, m.params);
      if (bad) return { ok: false, id: null, error: RpcError.invalidParams('params', `of ${m.method}: ${bad}`) };
    }
    return { ok: true, message: m as unknown as Message };
  }
  if ('id' in m && ('result' in m || 'error' in m)) {
    // vscode-jsonrpc calls id.toString() on a response id; an object with its own toString threw.
    if (m.id !== null && !validId(m.id)) return { ok: false, id: null, error: RpcError.invalidRequest('a response `id` must be a string, a number or null') };
    if ('error' in m && m.error !== undefined) {
      const e = m.error;
      if (!isObject(e) || !Number.isInteger(e.code) || typeof e.message !== 'string') {
        return { ok: false, id: null, error: RpcError.invalidRequest('a response `error` must be `{code: integer, message: string}`') };
      }
    }
    return { ok: true, message: m as unknown as Message };
  }
  return { ok: false, id, error: RpcError.invalidRequest('neither a request, a notification nor a response') };
}

let queuedBytesTotal = 0;

/**
 * Base of the transports' readers: hands valid messages on, answers bad ones itself, and keeps
 * the books vscode-jsonrpc does not: which requests are open (queued or running, so a duplicate
 * id or a cancel for nothing never reaches it), which of our own requests await a response, and
 * how much is queued before dispatch (bounded per connection and in total).
 */
export abstract class CheckedReader extends AbstractMessageReader implements MessageReader {
  private callback?: DataCallback;
  private early: Message[] = [];
  /** Messages handed on and not yet dispatched, with their size. */
  private queued = new Map<Message, number>();
  private queuedBytes = 0;
  /** Ids of inbound requests not yet answered: queued ones and running ones. */
  private queuedIds = new Set<Id>();
  private runningIds = new Set<Id>();
  /** Ids of our own (server-to-client) requests still awaiting a response. */
  private sentIds = new Set<Id>();

  /**
   * @param reject answers a bad message with an error response
   * @param admit rate limiting: 0 admits a message, otherwise the seconds to wait
   */
  constructor(private reject: (id: string | number | null, error: RpcError) => void, private admit?: () => number) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    for (const m of this.early.splice(0)) callback(m);
    return { dispose: () => { this.callback = undefined; } };
  }

  /** Called by the transport with the text of one message. */
  protected receive(text: string) {
    const c = classify(text);
    if (!c.ok) return this.reject(c.id, c.error);
    const m = c.message as { id?: Id | null; method?: string; params?: { id: Id } };
    if (m.method === undefined) {
      // A response: only to a request we sent and that is still waiting; anything else is dropped.
      if (m.id === null || m.id === undefined || !this.sentIds.delete(m.id)) return;
      return this.handOn(c.message, text.length);
    }
    if (m.id === undefined && m.method === '$/cancelRequest') {
      const target = m.params!.id;
      // A running request is cancelled synchronously by vscode-jsonrpc (never queued); a cancel
      // for an id that is not open cancels nothing and is dropped.
      if (this.runningIds.has(target)) return this.callback?.(c.message);
      if (!this.queuedIds.has(target)) return;
    }
    const wait = this.admit?.() ?? 0;
    if (wait > 0) {
      // Responses to our own requests are never limited; a limited notification is dropped silently.
      if (m.id !== undefined) this.reject(m.id!, RpcError.rateLimited(wait));
      return;
    }
    if (m.id !== undefined && m.id !== null && (this.queuedIds.has(m.id) || this.runningIds.has(m.id))) {
      return this.reject(m.id, RpcError.invalidRequest(`id ${JSON.stringify(m.id)} is already used by a request still open on this connection`));
    }
    if (this.queued.size >= MAX_QUEUED_MESSAGES || this.queuedBytes + text.length > MAX_QUEUED_BYTES || queuedBytesTotal + text.length > MAX_QUEUED_BYTES_TOTAL) {
      if (m.id !== undefined) this.reject(m.id!, RpcError.limit('messages queued before dispatch; wait for replies', MAX_QUEUED_MESSAGES));
      return;
    }
    if (m.id !== undefined && m.id !== null) this.queuedIds.add(m.id);
    this.handOn(c.message, text.length);
  }

  private handOn(message: Message, bytes: number) {
    this.queued.set(message, bytes);
    this.queuedBytes += bytes;
    queuedBytesTotal += bytes;
    if (this.callback) this.callback(message);
    else this.early.push(message);
  }

  /** vscode-jsonrpc took a message off its queue (its messageStrategy). */
  dispatched(message: Message) {
    const bytes = this.queued.get(message);
    if (bytes === undefined) return;
    this.queued.delete(message);
    this.queuedBytes -= bytes;
    queuedBytesTotal -= bytes;
    const id = (message as { id?: Id; method?: string }).id;
    if (id !== undefined && (message as { method?: string }).method !== undefined && this.queuedIds.delete(id)) this.runningIds.add(id);
  }

  /** An outbound message is being written: a response closes an inbound request, a request opens one of ours. */
  outbound(message: Message) {
    const m = message as { id?: Id | null; method?: string };
    if (m.id === undefined || m.id === null) return;
    if (m.method === undefined) this.runningIds.delete(m.id);
    else this.sentIds.add(m.id);
  }

  protected refuse(error: RpcError) {
    this.reject(null, error);
  }

  closed() {
    for (const bytes of this.queued.values()) queuedBytesTotal -= bytes;
    this.queued.clear();
    this.queuedBytes = 0;
    this.fireClose();
  }
}

export function errorFrame(id: string | number | null, error: RpcError): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: error.toJSON() });
}
