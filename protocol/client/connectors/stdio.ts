/**
 * Spawn-and-stdio connector (Node only): starts `agentd serve --stdio` (or any command) and speaks
 * JSON-RPC with Content-Length frames over its stdin/stdout through vscode-jsonrpc. Each connect()
 * spawns a fresh process; the process's stderr goes to `onStderr`, or to a file (`stderr`).
 * `pipeConnector` speaks the same framing over any pair of streams (a server in this process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import {
  CancellationTokenSource, createMessageConnection, ResponseError,
  StreamMessageReader, StreamMessageWriter, type MessageConnection,
} from 'vscode-jsonrpc/node';
import {
  ConnectionClosedError, RpcResponseError, toErrorObject,
  type Channel, type Connector, type NotificationHandler, type ServerRequestHandler,
} from '../channel.js';

export interface StdioConnectorOptions {
  /** The executable, e.g. `process.execPath` with args `['/path/bin/agentd.js', 'serve', '--stdio']`, or `agentd`. */
  command: string;
  /** Arguments. Default: `['serve', '--stdio']`. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Each chunk the server writes to stderr (its logs). */
  onStderr?: (text: string) => void;
  /** Where the server's stderr goes instead: a file descriptor (a log file) or 'inherit'. */
  stderr?: number | 'inherit';
  /** The spawned process, once per connect(). */
  onSpawn?: (proc: ChildProcess) => void;
  /** How long close() waits for the process to exit after `exit` before killing it. Default 3000. */
  exitTimeoutMs?: number;
}

export function stdioConnector(opts: StdioConnectorOptions): Connector {
  return {
    kind: 'stdio',
    connect: async () => {
      const proc = spawn(opts.command, opts.args ?? ['serve', '--stdio'], {
        cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', opts.stderr ?? 'pipe'],
      });
      proc.stderr?.setEncoding('utf8');
      proc.stderr?.on('data', (d: string) => opts.onStderr?.(d));
      await new Promise<void>((resolve, reject) => {
        proc.once('spawn', () => resolve());
        proc.once('error', (err) => reject(new ConnectionClosedError(`could not start ${opts.command}: ${err.message}`)));
      });
      opts.onSpawn?.(proc);
      return new StdioChannel(proc, opts.exitTimeoutMs ?? 3000);
    },
  };
}

/** The two ends of a framed connection to a server, and how to learn of (and force) its end. */
export interface PipeEnds {
  /** What the server writes (its stdout). */
  readable: Readable;
  /** What the server reads (its stdin). */
  writable: Writable;
  /** Resolves once the server is gone, with why (e.g. `agentd exited (code 1)`). */
  exited: Promise<string>;
  /** Ends the server at once when it does not stop after `exit`. */
  kill(): void;
}

/** Content-Length framed JSON-RPC over streams a function opens, e.g. a server in this process. */
export function pipeConnector(open: () => Promise<PipeEnds>, opts: { exitTimeoutMs?: number; kind?: string } = {}): Connector {
  return {
    kind: opts.kind ?? 'pipe',
    connect: async () => new StreamChannel(await open(), opts.exitTimeoutMs ?? 3000),
  };
}

/** A Channel over a vscode-jsonrpc MessageConnection on a pair of streams. */
export class StreamChannel implements Channel {
  readonly serverRequests = true;
  readonly handshake = true;
  private conn: MessageConnection;
  private closeHandlers: Array<(error?: Error) => void> = [];
  private closed = false;
  private closingLocally = false;
  private readonly exited: Promise<void>;

  constructor(private ends: PipeEnds, private exitTimeoutMs: number) {
    this.conn = createMessageConnection(new StreamMessageReader(ends.readable), new StreamMessageWriter(ends.writable));
    let gone = false;
    this.exited = ends.exited.then((why) => { gone = true; this.finish(new ConnectionClosedError(why)); });
    ends.writable.on('error', () => {}); // EPIPE after the server died: reported through `exited`
    // The output usually ends just before the exit is known: give the exit status a moment to name the cause.
    this.conn.onClose(() => {
      if (gone) return;
      const t = setTimeout(() => this.finish(new ConnectionClosedError('agentd closed its stdout')), 500);
      void this.exited.then(() => clearTimeout(t));
    });
    this.conn.onError(() => {});
    this.conn.listen();
  }

  async request(method: string, params: unknown, signal?: AbortSignal): Promise<unknown> {
    if (this.closed) throw new ConnectionClosedError();
    const source = new CancellationTokenSource();
    const onAbort = () => source.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.conn.sendRequest(method, params, source.token);
    } catch (err) {
      if (err instanceof ResponseError) throw new RpcResponseError(err.code, err.message, err.data);
      if (this.closed) throw new ConnectionClosedError();
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      source.dispose();
    }
  }

  notify(method: string, params: unknown) {
    if (!this.closed) void this.conn.sendNotification(method, params).catch(() => {});
  }

  onNotification(handler: NotificationHandler) {
    this.conn.onNotification((method, params) => handler(method, params));
  }

  onRequest(handler: ServerRequestHandler) {
    this.conn.onRequest(async (method, params, token) => {
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort());
      try {
        return (await handler(method, params, abort.signal)) ?? null;
      } catch (err) {
        const e = toErrorObject(err);
        return new ResponseError(e.code, e.message, e.data);
      } finally {
        sub.dispose();
      }
    });
  }

  onClose(handler: (error?: Error) => void) { this.closeHandlers.push(handler); }

  /** Asks the server to stop (shutdown + exit), then waits for the process; kills it after a timeout. */
  async close() {
    if (this.closed) return this.exited;
    this.closingLocally = true;
    try {
      await Promise.race([this.conn.sendRequest('shutdown', {}), new Promise((r) => setTimeout(r, 1000))]);
      await this.conn.sendNotification('exit', {});
    } catch {
      // already gone
    }
    this.ends.writable.end();
    const t = setTimeout(() => this.ends.kill(), this.exitTimeoutMs);
    await this.exited;
    clearTimeout(t);
    this.finish();
  }

  private finish(error?: Error) {
    if (this.closed) return;
    this.closed = true;
    this.conn.dispose();
    const reason = this.closingLocally ? undefined : error;
    for (const h of this.closeHandlers) h(reason);
  }
}

/** A StreamChannel on a child's stdio. */
export class StdioChannel extends StreamChannel {
  constructor(readonly proc: ChildProcess, exitTimeoutMs: number) {
    super({
      readable: proc.stdout!,
      writable: proc.stdin!,
      exited: new Promise((resolve) => {
        const why = () => `agentd exited (${proc.signalCode ?? `code ${proc.exitCode}`})`;
        if (proc.exitCode !== null || proc.signalCode !== null) resolve(why());
        else proc.once('exit', () => resolve(why()));
      }),
      kill: () => proc.kill('SIGKILL'),
    }, exitTimeoutMs);
  }
}
