/**
 * A JSON-RPC peer over any byte transport: vscode-jsonrpc owns ids, responses, server-to-client
 * requests and $/cancelRequest; every request goes to the one dispatcher.
 */
import {
  CancellationTokenSource, createMessageConnection, ResponseError,
  type CancellationToken, type Message, type MessageConnection, type MessageWriter,
} from 'vscode-jsonrpc/node';
import type { Logger } from '../log.js';
import type { PublishedEvent } from '../events/log.js';
import type { BatchingWriter } from '../transport/writer.js';
import { toRpcError } from './errors.js';
import type { CheckedReader } from './frames.js';
import type { Dispatcher } from './dispatcher.js';
import { Peer, type TransportKind } from './peer.js';

export interface PeerHooks {
  /** `exit` notification: 0 after shutdown, 1 without (LSP). */
  exit(code: number): void;
  /** The peer's API key was revoked: close the connection (WebSocket: 4001). Default: close(). */
  revoked?(): void;
}

/** What a JSON-RPC connection needs of the server: a logger and the one dispatcher. */
export interface JsonRpcPeerDeps {
  log: Logger;
  dispatcher: Pick<Dispatcher, 'request' | 'notification'>;
}

export class JsonRpcPeer extends Peer {
  private conn: MessageConnection;

  constructor(private deps: JsonRpcPeerDeps, readonly transport: TransportKind, reader: CheckedReader, private writer: BatchingWriter, private hooks: PeerHooks) {
    super();
    const log = deps.log.child({ peer: this.id, transport });
    // The reader keeps the books of open ids and of the queue before dispatch: it sees every
    // message vscode-jsonrpc takes off its queue (messageStrategy) and every one it writes.
    const observed: MessageWriter = {
      write: (msg: Message) => { reader.outbound(msg); return writer.write(msg); },
      onError: writer.onError, onClose: writer.onClose, end: () => writer.end(), dispose: () => writer.dispose(),
    };
    this.conn = createMessageConnection(reader, observed, {
      error: (m) => log.debug(m), warn: (m) => log.debug(m), info: (m) => log.debug(m), log: (m) => log.trace(m),
    }, {
      messageStrategy: { handleMessage: (msg, next) => { reader.dispatched(msg); return next(msg); } },
    });
    this.conn.onRequest((method, params, token) => this.onRequest(method, params, token));
    this.conn.onNotification((method) => {
      if (method === 'exit') this.hooks.exit(this.state === 'shutdown' ? 0 : 1);
      else deps.dispatcher.notification(method);
    });
    this.conn.onClose(() => this.markClosed());
    this.conn.onError(([err]) => log.debug({ err: String(err) }, 'connection error'));
  }

  start() {
    this.conn.listen();
    return this;
  }

  private async onRequest(method: string, params: unknown, token: CancellationToken) {
    const abort = new AbortController();
    const sub = token.onCancellationRequested(() => abort.abort());
    const signal = AbortSignal.any([abort.signal, this.lifetime.signal]);
    try {
      return await this.deps.dispatcher.request(method, params, { peer: this, signal });
    } catch (err) {
      const e = toRpcError(err, method);
      throw new ResponseError(e.code, e.message, e.data);
    } finally {
      sub.dispose();
    }
  }

  deliver(e: PublishedEvent) {
    this.writer.writeText(e.frame);
  }

  writable() {
    return this.writer.writable();
  }

  async request(method: string, params: unknown, signal?: AbortSignal): Promise<unknown> {
    const source = new CancellationTokenSource();
    signal?.addEventListener('abort', () => source.cancel(), { once: true });
    try {
      return await this.conn.sendRequest(method, params, source.token);
    } finally {
      source.dispose();
    }
  }

  /** After the Unauthorized answers to requests in flight went out (they flush on the next turns). */
  protected closeRevoked() {
    setImmediate(() => setImmediate(() => (this.hooks.revoked ? this.hooks.revoked() : this.close())));
  }

  close() {
    this.writer.end();
    this.conn.dispose();
    this.markClosed();
  }
}
