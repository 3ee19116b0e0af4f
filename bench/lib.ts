/**
 * Shared pieces of the benchmarks: statistics, the result row, spawning agentd and the raw
 * baselines, a JSON-RPC client over a child's stdio (vscode-jsonrpc, as a real client would)
 * and over WebSocket, and RSS readings of a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import WebSocket from 'ws';

/** The repository root (this file runs from dist/bench/). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const AGENTD = join(ROOT, 'bin', 'agentd.js');
export const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'child.js');

export interface Options {
  quick: boolean;
  /** Repeats of each measurement (medians and spread are over these). */
  repeats: number;
  log(msg: string): void;
}

/** One line of the results table. */
export interface Row {
  group: string;
  name: string;
  /** agentd's figure, formatted (median). */
  value: string;
  /** The baseline's figure, formatted (median). */
  baseline: string;
  baselineName: string;
  /** Median of the per-repeat ratios agentd / baseline. */
  ratio: number;
  /** Min and max of the per-repeat ratios. */
  spread: [number, number];
  target?: string;
  met?: boolean;
  /** The figure the target is judged on when it is not the ratio (an added time, an RSS); shown in the summary. */
  judged?: string;
  note?: string;
}

export const median = (xs: number[]) => quantile(xs, 0.5);
export function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** A row from paired samples (agentd[i] measured next to baseline[i]). */
export function ratioRow(base: Omit<Row, 'value' | 'baseline' | 'ratio' | 'spread'>, agentd: number[], baseline: number[], fmt: (v: number) => string): Row {
  const ratios = agentd.map((a, i) => a / baseline[i]);
  return {
    ...base,
    value: fmt(median(agentd)),
    baseline: fmt(median(baseline)),
    ratio: median(ratios),
    spread: [Math.min(...ratios), Math.max(...ratios)],
  };
}

export const fmtMs = (v: number) => `${v.toFixed(1)} ms`;
export const fmtRate = (v: number) => `${Math.round(v).toLocaleString('en-US')}/s`;
export const fmtMB = (v: number) => `${(v / 1048576).toFixed(1)} MB`;
export const fmtKB = (v: number) => `${(v / 1024).toFixed(1)} KB`;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function tempDir(prefix = 'agentd-bench-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * A data directory for a benchmarked server. Its outbound buffer per connection is raised to
 * 256 MiB (default 16 MiB): `echo-bench` streams faster than a client on a loaded machine reads,
 * and a client that lets the default buffer fill is disconnected by design (the server-wide
 * total, default 256 MiB, is raised to 4 GiB for the same reason). The WebSocket and
 * REST rate limits are lifted: the drivers send thousands of requests at once from one address.
 */
export function dataDir(): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    limits: { sendBufferBytes: 256 * 1024 * 1024, totalSendBufferBytes: 4 * 1024 * 1024 * 1024 },
    security: { rateLimit: { requestsPerMinute: 1e9, messagesPerSecond: 1e9, burst: 1e9 } },
  }));
  return dir;
}

export function removeDir(dir: string) {
  rmSync(dir, { recursive: true, force: true });
}

/** Resident set size of a process, bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** Waits until the RSS of a process stops moving (within 1% over 300 ms), at most `ms`. */
export async function settledRss(pid: number, ms = 3000): Promise<number> {
  const deadline = Date.now() + ms;
  let last = rssOf(pid);
  for (;;) {
    await sleep(300);
    const now = rssOf(pid);
    if (Math.abs(now - last) <= last * 0.01 || Date.now() > deadline) return now;
    last = now;
  }
}

/** Rejects after `ms` with `what` in the message. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => { t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]);
}

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const serverEnv = () => ({ ...process.env, AGENTD_LOG_LEVEL: 'warn', AGENTD_CHECK_RESULTS: '' });

export const INIT_PARAMS = { protocolVersion: '1.0', clientInfo: { name: 'agentd-bench' }, capabilities: {} };

/** The part of a JSON-RPC client over a pipe that the benches use (vscode-jsonrpc's MessageConnection has it). */
export interface PipeClient {
  sendRequest(method: string, params?: unknown): Promise<unknown>;
  sendNotification(method: string, params?: unknown): Promise<void>;
  onNotification(method: string, handler: (params: any) => void): unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
  dispose(): void;
}

/**
 * A minimal JSON-RPC client over Content-Length frames: splits frames by hand and JSON.parses
 * each, as the WebSocket and SSE clients here do. vscode-jsonrpc's reader tops out near 100k
 * messages/s on this kind of machine, below what the raw pipe carries (about 600k/s hand-framed):
 * the throughput and replay figures use this reader so that the client is not what is measured.
 * Requests from the server are answered with MethodNotFound.
 */
export class PipeRpc implements PipeClient {
  private nextId = 1;
  private pending = new Map<number, { resolve(v: Json): void; reject(e: Error): void }>();
  private handlers = new Map<string, (params: Json) => void>();
  private buf: Buffer = Buffer.alloc(0);
  private disposed = false;

  constructor(private input: NodeJS.ReadableStream, private output: NodeJS.WritableStream) {
    input.on('data', this.onData);
  }

  private onData = (chunk: Buffer) => {
    let buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let off = 0;
    for (;;) {
      const end = buf.indexOf('\r\n\r\n', off);
      if (end < 0) break;
      const m = /Content-Length:\s*(\d+)/i.exec(buf.toString('latin1', off, end));
      if (!m) throw new Error(`PipeRpc: no Content-Length in ${JSON.stringify(buf.toString('latin1', off, end))}`);
      const start = end + 4;
      const len = Number(m[1]);
      if (buf.length < start + len) break;
      this.dispatch(JSON.parse(buf.toString('utf8', start, start + len)));
      off = start + len;
    }
    if (off) buf = buf.subarray(off);
    this.buf = buf;
  };

  private dispatch(msg: Json) {
    if (msg.method !== undefined) {
      if (msg.id !== undefined && msg.id !== null) return this.write({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: `the bench client does not handle ${msg.method}` } });
      return this.handlers.get(msg.method)?.(msg.params);
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.error) p.reject(Object.assign(new Error(msg.error.message), msg.error));
    else p.resolve(msg.result);
  }

  private write(msg: object) {
    if (this.disposed) return;
    const text = JSON.stringify(msg);
    this.output.write(`Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  }

  sendRequest<T = Json>(method: string, params?: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.write({ jsonrpc: '2.0', id, method, params });
    });
  }

  async sendNotification(method: string, params?: unknown): Promise<void> {
    this.write({ jsonrpc: '2.0', method, params });
  }

  onNotification(method: string, handler: (params: Json) => void) {
    this.handlers.set(method, handler);
  }

  dispose() {
    this.disposed = true;
    this.input.off('data', this.onData);
    for (const p of this.pending.values()) p.reject(new Error('PipeRpc disposed'));
    this.pending.clear();
  }
}

/**
 * `agentd serve --stdio` with a client on its pipes: vscode-jsonrpc (as a real client would, the
 * default) or PipeRpc (`client: 'minimal'`, for throughput). `serveArgs` go after `serve --stdio`;
 * `entry` replaces bin/agentd.js (bench/profile.ts runs the tsc output), `nodeArgs` go before it.
 */
export class StdioServer {
  readonly conn: PipeClient;
  readonly exited: Promise<void>;
  private stderr = '';

  constructor(readonly proc: ChildProcess, readonly dataDir: string, client: 'vscode-jsonrpc' | 'minimal' = 'vscode-jsonrpc') {
    proc.stderr!.on('data', (d) => { this.stderr = (this.stderr + d).slice(-4000); });
    if (client === 'minimal') {
      this.conn = new PipeRpc(proc.stdout!, proc.stdin!);
    } else {
      const conn = createMessageConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
      conn.listen();
      this.conn = conn;
    }
    this.exited = new Promise((resolve) => proc.on('exit', () => resolve()));
  }

  static async start(dataDir = tempDir(), nodeArgs: string[] = [], o: { client?: 'vscode-jsonrpc' | 'minimal'; serveArgs?: string[]; entry?: string[] } = {}): Promise<StdioServer> {
    const entry = o.entry ?? [AGENTD];
    const proc = spawn(process.execPath, [...nodeArgs, ...entry, 'serve', '--stdio', '--data-dir', dataDir, ...(o.serveArgs ?? [])], { stdio: ['pipe', 'pipe', 'pipe'], env: serverEnv(), cwd: ROOT });
    const s = new StdioServer(proc, dataDir, o.client);
    await within(s.conn.sendRequest('initialize', INIT_PARAMS), 20_000, `initialize (stderr: ${s.stderr})`);
    await s.conn.sendNotification('initialized', {});
    return s;
  }

  request<T = any>(method: string, params?: unknown): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.conn.sendRequest(method, params) as Promise<T>;
  }

  async stop() {
    this.conn.dispose();
    this.proc.stdin!.end();
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}

/** `agentd serve --port 0 [serveArgs]` (`entry` in place of bin/agentd.js, `nodeArgs` before it); resolves once it listens. */
export async function startHttpServer(dataDir = tempDir(), serveArgs: string[] = [], o: { nodeArgs?: string[]; entry?: string[] } = {}): Promise<{ proc: ChildProcess; url: string; wsUrl: string; dataDir: string; stderr(): string; stop(): Promise<void> }> {
  const proc = spawn(process.execPath, [...(o.nodeArgs ?? []), ...(o.entry ?? [AGENTD]), 'serve', '--port', '0', '--data-dir', dataDir, ...serveArgs], { stdio: ['ignore', 'pipe', 'pipe'], env: serverEnv(), cwd: ROOT });
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  // Warnings only (AGENTD_LOG_LEVEL=warn); the last MB is kept for the benches that read them.
  let err = '';
  proc.stderr!.on('data', (d) => { err = (err + d).slice(-(1 << 20)); });
  const url = await within(new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    proc.on('exit', (code) => reject(new Error(`agentd exited (${code}): ${err.slice(-4000)}`)));
  }), 20_000, 'agentd to listen');
  return {
    proc, url, wsUrl: `${url.replace(/^http/, 'ws')}/rpc`, dataDir, stderr: () => err,
    stop: async () => {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** A minimal JSON-RPC client over one WebSocket: requests, and a callback per notification. */
export class WsRpc {
  private nextId = 1;
  private pending = new Map<number, { resolve(v: Json): void; reject(e: Error): void }>();
  onNotification: (method: string, params: Json) => void = () => {};

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const msg = JSON.parse(d.toString());
      if (msg.method) return this.onNotification(msg.method, msg.params);
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(Object.assign(new Error(msg.error.message), msg.error));
      else p.resolve(msg.result);
    });
  }

  static async connect(url: string, initialize = true): Promise<WsRpc> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await within(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 20_000, `connect ${url}`);
    const c = new WsRpc(ws);
    if (initialize) {
      await c.request('initialize', INIT_PARAMS);
      c.ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'initialized', params: {} }));
    }
    return c;
  }

  request<T = Json>(method: string, params?: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => { this.ws.once('close', () => resolve()); this.ws.close(); });
  }
}

/** A baseline child process (dist/bench/child.js): `mode` is one of the raw senders there. */
export function spawnChild(mode: string, args: string[] = []): ChildProcess {
  return spawn(process.execPath, [CHILD, mode, ...args], { stdio: ['pipe', 'pipe', 'inherit'], cwd: ROOT });
}

/** The first line a child prints. */
export function firstLine(proc: ChildProcess): Promise<string> {
  return within(new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        proc.stdout!.off('data', onData);
        resolve(out.slice(0, nl));
      }
    };
    proc.stdout!.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`child exited (${code}) before printing`)));
  }), 20_000, 'child to start');
}

export async function stopChild(proc: ChildProcess) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  proc.kill('SIGTERM');
  await exited;
}

/** A text of `size` JSON characters that survives JSON round trips unchanged. */

/**
 * One SSE stream (GET), parsed by hand the same way for agentd and for the raw baseline: each
 * event's `data:` line goes through JSON.parse. Resolves once the response headers arrived and,
 * when `ready` names a comment (agentd writes `: connected` once subscribed), once it was seen.
 */
export function sseStream(url: string, onData: (data: Json, type: string) => void, ready?: string): Promise<{ close(): void; ended: Promise<void> }> {
  return within(new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`SSE ${url}: HTTP ${res.statusCode}`));
      res.setEncoding('utf8');
      let buf = '';
      let isReady = !ready;
      const handle = { close: () => req.destroy(), ended: new Promise<void>((r) => res.on('close', () => r())) };
      res.on('data', (chunk: string) => {
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let type = 'message';
          let data: string | undefined;
          for (const line of block.split('\n')) {
            if (line.startsWith('data: ')) data = line.slice(6);
            else if (line.startsWith('event: ')) type = line.slice(7);
            else if (!isReady && line === `: ${ready}`) {
              isReady = true;
              resolve(handle);
            }
          }
          if (data !== undefined) onData(JSON.parse(data), type);
        }
      });
      if (isReady) resolve(handle);
    });
    req.on('error', reject);
  }), 20_000, `SSE ${url}`);
}
