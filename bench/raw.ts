/**
 * The raw baselines as the bench process sees them: each is a child process (bench/child.ts)
 * sending `count` messages of `size` bytes, received here by the same client code that receives
 * agentd's events (PipeRpc on a pipe, ws, the SSE parser of lib.ts), counted, timed.
 * Two of each: the naive use of the library (kept for reference) and the best writer we know
 * (batched writes that respect backpressure), which the targets are measured against.
 */
import WebSocket from 'ws';
import { firstLine, PipeRpc, spawnChild, sseStream, stopChild, within } from './lib.js';

export interface RawSender {
  /** What the table calls this baseline. */
  readonly label: string;
  /** Messages per second over `count` messages of `size` bytes; throws unless all arrived. */
  rate(count: number, size: number): Promise<number>;
  stop(): Promise<void>;
}

/** Over a pipe: `jsonrpc` (vscode-jsonrpc, each send awaited) or `pipe` (hand-framed, batched). */
export async function pipeSender(kind: 'naive' | 'best'): Promise<RawSender> {
  const proc = spawnChild(kind === 'naive' ? 'jsonrpc' : 'pipe');
  const conn = new PipeRpc(proc.stdout!, proc.stdin!);
  let got = 0;
  conn.onNotification('session/event', () => { got++; });
  return {
    label: kind === 'naive' ? 'vscode-jsonrpc over a pipe, each send awaited (naive, reference)' : 'hand-framed Content-Length frames over a pipe, 64 KB writes, drain-aware (best raw)',
    async rate(count, size) {
      got = 0;
      const t0 = performance.now();
      await within(conn.sendRequest('go', { count, size }), 300_000, `raw ${kind} pipe`);
      const rate = got / ((performance.now() - t0) / 1000);
      if (got !== count) throw new Error(`raw ${kind} pipe delivered ${got} of ${count}`);
      return rate;
    },
    async stop() {
      conn.dispose();
      proc.stdin!.end();
      await stopChild(proc);
    },
  };
}

/** One WebSocket: `ws` (frame by frame) or `ws-cork` (corked batches). */
export async function wsSender(kind: 'naive' | 'best'): Promise<RawSender> {
  const proc = spawnChild(kind === 'naive' ? 'ws' : 'ws-cork');
  const port = Number(await firstLine(proc));
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  await within(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 10_000, 'raw ws');
  let got = 0;
  let target = 0;
  let done = () => {};
  ws.on('message', (d) => {
    JSON.parse(d.toString());
    if (++got === target) done();
  });
  return {
    label: kind === 'naive' ? 'ws, frame by frame (naive, reference)' : 'ws, socket.cork() around 64 KB batches, drain-aware (best raw)',
    async rate(count, size) {
      got = 0;
      target = count;
      const all = new Promise<void>((resolve) => { done = resolve; });
      const t0 = performance.now();
      ws.send(JSON.stringify({ count, size }));
      await within(all, 300_000, `raw ${kind} ws`);
      return count / ((performance.now() - t0) / 1000);
    },
    async stop() {
      ws.close();
      await stopChild(proc);
    },
  };
}

/** A bare node:http SSE writer: `sse` (one write per event) or `sse-batch` (64 KB writes); both wait for drain. */
export async function sseSender(kind: 'naive' | 'best'): Promise<RawSender> {
  const proc = spawnChild(kind === 'naive' ? 'sse' : 'sse-batch');
  const port = Number(await firstLine(proc));
  return {
    label: kind === 'naive' ? 'bare node:http SSE, one write per event, drain-aware (naive, reference)' : 'bare node:http SSE, 64 KB writes, drain-aware (best raw)',
    async rate(count, size) {
      let got = 0;
      const t0 = performance.now();
      const stream = await sseStream(`http://127.0.0.1:${port}/?count=${count}&size=${size}`, () => { got++; });
      await within(stream.ended, 300_000, `raw ${kind} SSE`);
      const rate = got / ((performance.now() - t0) / 1000);
      if (got !== count) throw new Error(`raw ${kind} SSE delivered ${got} of ${count}`);
      return rate;
    },
    stop: () => stopChild(proc),
  };
}
