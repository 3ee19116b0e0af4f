/**
 * Inbound checks before a message reaches vscode-jsonrpc, which would otherwise drop or
 * merely log malformed input. Every bad frame gets a JSON-RPC error response instead.
 */
import { AbstractMessageReader, type DataCallback, type Disposable, type Message, type MessageReader } from 'vscode-jsonrpc/node';
import { RpcError } from './errors.js';

export type Classified = { ok: true; message: Message } | { ok: false; id: string | number | null; error: RpcError };

const validId = (id: unknown) => typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));

export function classify(text: string): Classified {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch (err) {
    return { ok: false, id: null, error: RpcError.parse((err as Error).message) };
  }
  if (Array.isArray(msg)) return { ok: false, id: null, error: RpcError.invalidRequest('batches are not supported; send one message at a time') };
  if (msg === null || typeof msg !== 'object') return { ok: false, id: null, error: RpcError.invalidRequest('a message must be a JSON object') };
  const m = msg as Record<string, unknown>;
  const id = validId(m.id) ? (m.id as string | number) : null;
  if (m.jsonrpc !== '2.0') return { ok: false, id, error: RpcError.invalidRequest('`jsonrpc` must be "2.0"') };
  if ('method' in m) {
    if (typeof m.method !== 'string' || !m.method) return { ok: false, id, error: RpcError.invalidRequest('`method` must be a non-empty string') };
    if ('id' in m && !validId(m.id)) return { ok: false, id: null, error: RpcError.invalidRequest('`id` must be a string or a number') };
    if ('params' in m && (m.params === null || typeof m.params !== 'object')) {
      return { ok: false, id, error: RpcError.invalidRequest('`params` must be an object') };
    }
    return { ok: true, message: m as unknown as Message };
  }
  if ('id' in m && ('result' in m || 'error' in m)) return { ok: true, message: m as unknown as Message };
  return { ok: false, id, error: RpcError.invalidRequest('neither a request, a notification nor a response') };
}

/** Base of the transports' readers: hands valid messages on, answers bad ones itself. */
export abstract class CheckedReader extends AbstractMessageReader implements MessageReader {
  private callback?: DataCallback;
  private early: Message[] = [];

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
    const wait = this.admit?.() ?? 0;
    if (wait > 0) {
      const m = c.message as { id?: string | number; method?: string };
      // Responses to our own requests are never limited; a limited notification is dropped silently.
      if (m.method !== undefined) {
        if (m.id !== undefined) this.reject(m.id, RpcError.rateLimited(wait));
        return;
      }
    }
    if (this.callback) this.callback(c.message);
    else this.early.push(c.message);
  }

  protected refuse(error: RpcError) {
    this.reject(null, error);
  }

  closed() {
    this.fireClose();
  }
}

export function errorFrame(id: string | number | null, error: RpcError): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: error.toJSON() });
}
