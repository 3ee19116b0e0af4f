/**
 * A raw JSON-RPC test client that speaks the wire format itself (Content-Length frames on a
 * child's stdio, or WebSocket text frames), so tests can also send malformed input.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The agentd command; in the PostgreSQL pass (AGENTD_TEST_PG) one that gives each data dir its own database. */
export const AGENTD = process.env.AGENTD_TEST_PG ? join(ROOT, 'test', 'helpers', 'pg-agentd.mjs') : join(ROOT, 'bin', 'agentd.js');

export type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
export interface RpcResponse { id: number | string | null; result?: Json; error?: { code: number; message: string; data?: Json } }

export function tempDir(prefix = 'agentd-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export abstract class RpcClient {
  private nextId = 1;
  private pending = new Map<number | string, (r: RpcResponse) => void>();
  /** Every notification received, in order. */
  readonly notifications: Json[] = [];
  /** Responses with an id we did not send (e.g. errors for malformed frames, id null). */
  readonly orphans: RpcResponse[] = [];
  private waiters: Array<() => void> = [];
  /** Answers server-to-client requests (permission/request); default: method not found. */
  onServerRequest: (method: string, params: Json) => Promise<Json> | Json = (method) => { throw Object.assign(new Error(`unhandled ${method}`), { code: -32601 }); };
  readonly serverRequests: Json[] = [];

  protected abstract sendText(text: string): void;
  abstract close(): Promise<void>;

  protected onText(text: string) {
    const msg = JSON.parse(text);
    if (msg.method && msg.id !== undefined) {
      this.serverRequests.push(msg);
      Promise.resolve()
        .then(() => this.onServerRequest(msg.method, msg.params))
        .then((result) => this.sendText(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result })),
          (err) => this.sendText(JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: err.code ?? -32603, message: String(err.message) } })));
    } else if (msg.method) this.notifications.push(msg);
    else if (msg.id !== null && this.pending.has(msg.id)) {
      this.pending.get(msg.id)!(msg);
      this.pending.delete(msg.id);
    } else this.orphans.push(msg);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Sends a request and resolves with the whole response (result or error). */
  call(method: string, params?: Json, id: number | string = this.nextId++): Promise<RpcResponse> {
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.sendText(JSON.stringify(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params }));
    });
  }

  /** Sends a request and resolves with its result; rejects with the error object. */
  async request(method: string, params?: Json): Promise<Json> {
    const r = await this.call(method, params);
    if (r.error) throw Object.assign(new Error(r.error.message), r.error);
    return r.result;
  }

  notify(method: string, params?: Json) {
    this.sendText(JSON.stringify({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) }));
  }

  raw(text: string) { this.sendText(text); }

  async initialize(capabilities: Json = {}) {
    const r = await this.request('initialize', { protocolVersion: '1.0', clientInfo: { name: 'test' }, capabilities });
    this.notify('initialized', {});
    return r;
  }

  /** Session events received so far (params of session/event notifications). */
  events(sessionId?: string): Json[] {
    return this.notifications.filter((n) => n.method === 'session/event' && (!sessionId || n.params.sessionId === sessionId)).map((n) => n.params);
  }

  /** Waits until `pred` holds (checked after every message), or fails after `ms`. */
  async waitFor<T>(pred: () => T | undefined | false, ms = 10_000, what = 'condition'): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = pred();
      if (v) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** Waits for an event of a type (optionally matching), returns it. */
  waitForEvent(type: string, match: (e: Json) => boolean = () => true, ms = 10_000) {
    return this.waitFor(() => this.events().find((e) => e.type === type && match(e)), ms, `event ${type}`);
  }
}

/** Frames a JSON text as LSP does. */
export const frame = (text: string) => `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;

export class StdioClient extends RpcClient {
  private buf = Buffer.alloc(0);
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(readonly proc: ChildProcess) {
    super();
    proc.stdout!.on('data', (d: Buffer) => this.onData(d));
    proc.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    this.exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  }

  private onData(d: Buffer) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /Content-Length: (\d+)/i.exec(this.buf.subarray(0, end).toString());
      if (!m) throw new Error(`bad frame from server: ${this.buf.subarray(0, end).toString()}`);
      const len = Number(m[1]);
      if (this.buf.length < end + 4 + len) return;
      const body = this.buf.subarray(end + 4, end + 4 + len).toString('utf8');
      this.buf = this.buf.subarray(end + 4 + len);
      this.onText(body);
    }
  }

  protected sendText(text: string) { this.proc.stdin!.write(frame(text)); }
  /** Writes raw bytes to the server's stdin (for malformed frames). */
  rawBytes(data: string | Buffer) { this.proc.stdin!.write(data); }

  async close() {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.stdin!.end();
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}

export interface ServerOptions {
  dataDir?: string;
  env?: Record<string, string>;
  args?: string[];
  cwd?: string;
}

// Local model detection is off unless a test turns it on (AGENTD_DETECT_LOCAL: '1'): whatever listens
// on this machine's 11434/1234/8080 must not show up in other tests.
const childEnv = (o: ServerOptions) => ({ ...process.env, AGENTD_LOG_LEVEL: 'warn', AGENTD_CHECK_RESULTS: '1', AGENTD_DETECT_LOCAL: '0', ...o.env });

/** Spawns `agentd serve --stdio` and returns a client on its stdio. */
export function spawnStdio(o: ServerOptions = {}): StdioClient {
  const dataDir = o.dataDir ?? tempDir();
  const proc = spawn(process.execPath, [AGENTD, 'serve', '--stdio', '--data-dir', dataDir, ...(o.args ?? [])], {
    stdio: ['pipe', 'pipe', 'pipe'], env: childEnv(o), cwd: o.cwd ?? ROOT,
  });
  return new StdioClient(proc);
}

export interface HttpServer {
  proc: ChildProcess;
  url: string;
  wsUrl: string;
  dataDir: string;
  stderr: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Spawns `agentd serve --port 0` and resolves once it listens. */
export function spawnHttp(o: ServerOptions = {}): Promise<HttpServer> {
  const dataDir = o.dataDir ?? tempDir();
  const proc = spawn(process.execPath, [AGENTD, 'serve', '--port', '0', '--data-dir', dataDir, ...(o.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(o), cwd: o.cwd ?? ROOT,
  });
  let err = '';
  proc.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (m) {
        const url = m[1];
        resolve({
          proc, url, wsUrl: `${url.replace(/^http/, 'ws')}/rpc`, dataDir, stderr: () => err,
          stop: async (signal = 'SIGTERM') => {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
            const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
            const code = await exited;
            clearTimeout(t);
            return code;
          },
        });
      }
    });
    proc.on('exit', (code) => reject(new Error(`server exited (${code}) before listening: ${err}`)));
  });
}

export class WsClient extends RpcClient {
  constructor(readonly ws: WebSocket) {
    super();
    ws.on('message', (d, isBinary) => { if (!isBinary) this.onText(d.toString()); });
  }

  static connect(url: string, opts: WebSocket.ClientOptions = {}, protocols?: string | string[]): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols, opts);
      ws.once('open', () => resolve(new WsClient(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
    });
  }

  protected sendText(text: string) { this.ws.send(text); }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => { this.ws.once('close', () => resolve()); this.ws.close(); });
  }
}
