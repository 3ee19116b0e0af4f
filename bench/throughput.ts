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

  for (const r of rows) r.note = lost ? `${lost} events lost or out of order` : 'no event lost';
  if (lost) for (const r of rows) r.met = false;
  return rows;
}

import { median } from './lib.js';
