/**
 * 2. Event throughput per transport: one session on the `echo-bench` model streams N deltas as
 * fast as it can; the rate is measured at a client, from sending `session/message` to receiving
 * `turn.completed`. Baseline: the raw library moving N messages of the same size (the median
 * delta frame agentd sent) with no agentd in between. Every run checks that no event was lost.
 */
import WebSocket from 'ws';
import {
  firstLine, fmtRate, ratioRow, spawnChild, StdioServer, startHttpServer, stopChild, within, WsRpc,
  type Options, type Row, dataDir } from './lib.js';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Tracks one session's events: counts deltas, checks seqs are contiguous, resolves on turn end. */
export class TurnWatch {
  deltas = 0;
  frameBytes = 0;
  lastSeq = -1;
  errors: string[] = [];
  t1 = 0;
  readonly done: Promise<void>;
  private resolve!: () => void;

  constructor(readonly sessionId: string) {
    this.done = new Promise((r) => { this.resolve = r; });
  }

  onEvent(e: Json) {
    if (e.sessionId !== this.sessionId) return;
    if (this.lastSeq >= 0 && e.seq !== this.lastSeq + 1) this.errors.push(`seq ${e.seq} after ${this.lastSeq}`);
    this.lastSeq = e.seq;
    if (e.type === 'message.delta') {
      if (this.deltas++ === 0) this.frameBytes = JSON.stringify({ jsonrpc: '2.0', method: 'session/event', params: e }).length;
    } else if (e.type === 'turn.completed' || e.type === 'turn.failed') {
      if (e.type === 'turn.failed') this.errors.push(`turn failed: ${JSON.stringify(e.data.error)}`);
      this.t1 = performance.now();
      this.resolve();
    }
  }
}

const SIZE = 16;

export async function throughput(o: Options): Promise<Row[]> {
  const n = o.quick ? 20_000 : 100_000;
  const rows: Row[] = [];
  let lost = 0;
  let frameBytes = 200;

  // stdio: agentd vs vscode-jsonrpc over a pipe.
  {
    const server = await StdioServer.start(dataDir());
    const raw = spawnChild('jsonrpc');
    const rawConn = createMessageConnection(new StreamMessageReader(raw.stdout!), new StreamMessageWriter(raw.stdin!));
    let rawCount = 0;
    rawConn.onNotification('session/event', () => { rawCount++; });
    rawConn.listen();
    let watch: TurnWatch | undefined;
    server.conn.onNotification('session/event', (e: Json) => watch?.onEvent(e));
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < o.repeats; r++) {
      const s = await server.request('session/create', { provider: 'echo', model: 'echo-bench' });
      await server.request('session/subscribe', { sessionId: s.id });
      watch = new TurnWatch(s.id);
      const t0 = performance.now();
      await within(Promise.all([server.request('session/message', { sessionId: s.id, content: `${n} ${SIZE}` }), watch.done]), 120_000, 'stdio turn');
      a.push(n / ((watch.t1 - t0) / 1000));
      if (watch.deltas !== n || watch.errors.length) lost += Math.abs(n - watch.deltas) + watch.errors.length;
      frameBytes = watch.frameBytes;

      rawCount = 0;
      const t2 = performance.now();
      await within(rawConn.sendRequest('go', { count: n, size: frameBytes }), 120_000, 'raw jsonrpc');
      b.push(rawCount / ((performance.now() - t2) / 1000));
      if (rawCount !== n) throw new Error(`raw jsonrpc delivered ${rawCount} of ${n}`);
    }
    o.log(`stdio: agentd ${a.map(Math.round)} raw ${b.map(Math.round)} /s`);
    rows.push({
      ...ratioRow({ group: '2. throughput', name: `stdio: ${n.toLocaleString('en-US')} deltas (${frameBytes} B frames)`, baselineName: 'vscode-jsonrpc over a pipe' }, a, b, fmtRate),
      target: '≥ 0.80', met: median(a) / median(b) >= 0.8,
    });
    rawConn.dispose();
    await stopChild(raw);
    await server.stop();
  }

  // WebSocket: agentd vs ws.
  {
    const server = await startHttpServer(dataDir());
    const client = await WsRpc.connect(server.wsUrl);
    const raw = spawnChild('ws');
    const port = Number(await firstLine(raw));
    const rawWs = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    await within(new Promise((resolve, reject) => { rawWs.once('open', resolve); rawWs.once('error', reject); }), 10_000, 'raw ws');
    let rawCount = 0;
    let rawTarget = 0;
    let rawDone = () => {};
    rawWs.on('message', (d) => {
      JSON.parse(d.toString());
      if (++rawCount === rawTarget) rawDone();
    });
    let watch: TurnWatch | undefined;
    client.onNotification = (m, p) => { if (m === 'session/event') watch?.onEvent(p); };
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < o.repeats; r++) {
      const s = await client.request('session/create', { provider: 'echo', model: 'echo-bench' });
      await client.request('session/subscribe', { sessionId: s.id });
      watch = new TurnWatch(s.id);
      const t0 = performance.now();
      await within(Promise.all([client.request('session/message', { sessionId: s.id, content: `${n} ${SIZE}` }), watch.done]), 120_000, 'ws turn');
      a.push(n / ((watch.t1 - t0) / 1000));
      if (watch.deltas !== n || watch.errors.length) lost += Math.abs(n - watch.deltas) + watch.errors.length;
      frameBytes = watch.frameBytes;

      rawCount = 0;
      rawTarget = n;
      const got = new Promise<void>((resolve) => { rawDone = resolve; });
      const t2 = performance.now();
      rawWs.send(JSON.stringify({ count: n, size: frameBytes }));
      await within(got, 120_000, 'raw ws');
      b.push(n / ((performance.now() - t2) / 1000));
    }
    o.log(`websocket: agentd ${a.map(Math.round)} raw ${b.map(Math.round)} /s`);
    rows.push({
      ...ratioRow({ group: '2. throughput', name: `WebSocket: ${n.toLocaleString('en-US')} deltas (${frameBytes} B frames)`, baselineName: 'ws, frame by frame' }, a, b, fmtRate),
      target: '≥ 0.80', met: median(a) / median(b) >= 0.8,
    });
    rawWs.close();
    await client.close();
    await stopChild(raw);
    await server.stop();
  }

  rows.push(await sse(o, n, frameBytes, (k) => { lost += k; }));

  for (const r of rows) r.note = lost ? `${lost} events lost or out of order` : 'no event lost';
  if (lost) for (const r of rows) r.met = false;
  return rows;
}

/** SSE: agentd's `GET /v1/session/{id}/events` vs a bare node:http SSE writer (skipped without the bridge). */
async function sse(o: Options, n: number, frameBytes: number, addLost: (k: number) => void): Promise<Row> {
  const server = await startHttpServer(dataDir());
  const raw = spawnChild('sse');
  try {
    const client = await WsRpc.connect(server.wsUrl);
    const probe = await client.request('session/create', { provider: 'echo', model: 'echo-bench' });
    const status = await new Promise<number>((resolve) => {
      const req = httpGet(`${server.url}/v1/session/${probe.id}/events`, (res) => { resolve(res.statusCode ?? 0); req.destroy(); });
      req.on('error', () => resolve(0));
    });
    if (status !== 200) {
      await client.close();
      return { group: '2. throughput', name: 'SSE', value: 'n/a', baseline: 'n/a', baselineName: 'bare node:http SSE writer', ratio: NaN, spread: [NaN, NaN], note: `skipped: no SSE route in this build (HTTP ${status})` };
    }
    const port = Number(await firstLine(raw));
    const a: number[] = [];
    const b: number[] = [];
    let dataBytes = frameBytes;
    for (let r = 0; r < o.repeats; r++) {
      const s = await client.request('session/create', { provider: 'echo', model: 'echo-bench' });
      const watch = new TurnWatch(s.id);
      let first = true;
      const stream = await sseStream(`${server.url}/v1/session/${s.id}/events`, (e) => {
        if (first && e.type === 'message.delta') { first = false; dataBytes = JSON.stringify(e).length; }
        watch.onEvent(e);
      }, 'connected');
      const t0 = performance.now();
      await within(Promise.all([client.request('session/message', { sessionId: s.id, content: `${n} ${SIZE}`, async: true }), watch.done]), 120_000, 'SSE turn');
      a.push(n / ((watch.t1 - t0) / 1000));
      if (watch.deltas !== n || watch.errors.length) addLost(Math.abs(n - watch.deltas) + watch.errors.length);
      stream.close();

      let count = 0;
      const t2 = performance.now();
      const rawStream = await sseStream(`http://127.0.0.1:${port}/?count=${n}&size=${dataBytes}`, () => { count++; });
      await within(rawStream.ended, 120_000, 'raw SSE');
      b.push(count / ((performance.now() - t2) / 1000));
      if (count !== n) throw new Error(`raw SSE delivered ${count} of ${n}`);
    }
    await client.close();
    o.log(`sse: agentd ${a.map(Math.round)} raw ${b.map(Math.round)} /s`);
    return {
      ...ratioRow({ group: '2. throughput', name: `SSE: ${n.toLocaleString('en-US')} deltas (${dataBytes} B data)`, baselineName: 'bare node:http SSE writer' }, a, b, fmtRate),
      target: '≥ 0.80', met: median(a) / median(b) >= 0.8,
    };
  } finally {
    await stopChild(raw);
    await server.stop();
  }
}

import { get as httpGet } from 'node:http';
import { median, sseStream } from './lib.js';
