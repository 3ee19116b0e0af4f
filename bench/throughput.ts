/**
 * 2. Event throughput per transport, persistence on (the default store, SQLite): one session on
 * the `echo-bench` model streams N deltas as fast as it can; the rate is measured at a client,
 * from sending `session/message` to receiving `turn.completed`. Each repeat measures agentd and
 * then two raw senders moving N messages of the same size (the delta frame
 * agentd sent) with no agentd in between, received by the same client code (raw.ts): the best
 * raw writer (batched writes that respect backpressure; the target, ≥ 0.6) and the library's
 * naive use (reference). Every turn checks that no event was lost: every delta arrived, seqs
 * contiguous, one `turn.completed`. One warm-up of each first (5,000 messages, not counted).
 */
import { fmtRate, ratioRow, StdioServer, startHttpServer, sseStream, within, WsRpc, type Options, type Row, dataDir } from './lib.js';
import { pipeSender, sseSender, wsSender, type RawSender } from './raw.js';
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
const GROUP = '2. throughput';
export const DELIVERY_TARGET = 0.6;

/** One agentd turn of `n` deltas as a transport sees it: rate, frame size, problems. */
export interface Turn { rate: number; bytes: number; problems: string[] }

/** Problems of a finished turn: missing deltas, seq gaps, a failed turn. */
export function turnProblems(watch: TurnWatch, n: number): string[] {
  return [...(watch.deltas !== n ? [`${watch.deltas} of ${n} deltas`] : []), ...watch.errors];
}

/**
 * Measures `turn` and both raw senders `o.repeats` times (agentd, best, naive in each repeat) and
 * returns the two rows: against the best raw writer (target) and the naive one (reference).
 */
async function compare(o: Options, label: string, n: number, turn: (count: number) => Promise<Turn>, best: RawSender, naive: RawSender, unit: string): Promise<Row[]> {
  // A warm-up of each (JIT, caches, the database file), not counted but checked.
  const warm = Math.min(n, 5000);
  const w = await turn(warm);
  await best.rate(warm, w.bytes);
  await naive.rate(warm, w.bytes);
  const a: number[] = [];
  const b: number[] = [];
  const c: number[] = [];
  const problems: string[] = [...w.problems];
  let bytes = 0;
  for (let r = 0; r < o.repeats; r++) {
    const t = await turn(n);
    a.push(t.rate);
    bytes = t.bytes;
    problems.push(...t.problems);
    b.push(await best.rate(n, bytes));
    c.push(await naive.rate(n, bytes));
  }
  o.log(`${label}: agentd ${a.map(Math.round)} best ${b.map(Math.round)} naive ${c.map(Math.round)} /s`);
  const name = `${label}: ${n.toLocaleString('en-US')} deltas (${bytes} B ${unit}), persistence on`;
  const note = problems.length ? `${problems.length} problems (events lost or out of order): ${problems.slice(0, 2).join('; ')}` : `no event lost (${o.repeats} turns: every delta, contiguous seqs)`;
  const bestRow = ratioRow({ group: GROUP, name, baselineName: best.label }, a, b, fmtRate);
  return [
    { ...bestRow, target: `≥ ${DELIVERY_TARGET}`, met: problems.length === 0 && bestRow.ratio >= DELIVERY_TARGET, note },
    { ...ratioRow({ group: GROUP, name: `${label}, reference`, baselineName: naive.label }, a, c, fmtRate), note: 'reference: the naive baseline (no target)' },
  ];
}

/** Runs `fn` with both raw senders of a kind, stopping them afterwards. */
async function withSenders<T>(make: (k: 'naive' | 'best') => Promise<RawSender>, fn: (best: RawSender, naive: RawSender) => Promise<T>): Promise<T> {
  const best = await make('best');
  const naive = await make('naive');
  try {
    return await fn(best, naive);
  } finally {
    await best.stop();
    await naive.stop();
  }
}

export async function throughput(o: Options): Promise<Row[]> {
  const n = o.quick ? 20_000 : 100_000;
  return [...await stdio(o, n), ...await websocket(o, n), ...await sse(o, n)];
}

/** stdio: agentd's frames read by PipeRpc, as the raw pipe senders' are. */
async function stdio(o: Options, n: number): Promise<Row[]> {
  const server = await StdioServer.start(dataDir(), [], { client: 'minimal' });
  let watch: TurnWatch | undefined;
  server.conn.onNotification('session/event', (e: Json) => watch?.onEvent(e));
  try {
    return await withSenders(pipeSender, (best, naive) => compare(o, 'stdio', n, async (n) => {
      const s = await server.request('session/create', { provider: 'echo', model: 'echo-bench' });
      await server.request('session/subscribe', { sessionId: s.id });
      const w = watch = new TurnWatch(s.id);
      const t0 = performance.now();
      await within(Promise.all([server.request('session/message', { sessionId: s.id, content: `${n} ${SIZE}` }), w.done]), 300_000, 'stdio turn');
      return { rate: n / ((w.t1 - t0) / 1000), bytes: w.frameBytes, problems: turnProblems(w, n) };
    }, best, naive, 'frames'));
  } finally {
    await server.stop();
  }
}

async function websocket(o: Options, n: number): Promise<Row[]> {
  const server = await startHttpServer(dataDir());
  const client = await WsRpc.connect(server.wsUrl);
  let watch: TurnWatch | undefined;
  client.onNotification = (m, p) => { if (m === 'session/event') watch?.onEvent(p); };
  try {
    return await withSenders(wsSender, (best, naive) => compare(o, 'WebSocket', n, async (n) => {
      const s = await client.request('session/create', { provider: 'echo', model: 'echo-bench' });
      await client.request('session/subscribe', { sessionId: s.id });
      const w = watch = new TurnWatch(s.id);
      const t0 = performance.now();
      await within(Promise.all([client.request('session/message', { sessionId: s.id, content: `${n} ${SIZE}` }), w.done]), 300_000, 'ws turn');
      return { rate: n / ((w.t1 - t0) / 1000), bytes: w.frameBytes, problems: turnProblems(w, n) };
    }, best, naive, 'frames'));
  } finally {
    await client.close();
    await server.stop();
  }
}

/** SSE: agentd's `GET /v1/session/{id}/events`, the turn started over WebSocket (async). */
async function sse(o: Options, n: number): Promise<Row[]> {
  const server = await startHttpServer(dataDir());
  const client = await WsRpc.connect(server.wsUrl);
  try {
    return await withSenders(sseSender, (best, naive) => compare(o, 'SSE', n, async (n) => {
      const s = await client.request('session/create', { provider: 'echo', model: 'echo-bench' });
      const w = new TurnWatch(s.id);
      let bytes = 0;
      const stream = await sseStream(`${server.url}/v1/session/${s.id}/events`, (e) => {
        if (!bytes && e.type === 'message.delta') bytes = JSON.stringify(e).length;
        w.onEvent(e);
      }, 'connected');
      const t0 = performance.now();
      await within(Promise.all([client.request('session/message', { sessionId: s.id, content: `${n} ${SIZE}`, async: true }), w.done]), 300_000, 'SSE turn');
      stream.close();
      return { rate: n / ((w.t1 - t0) / 1000), bytes, problems: turnProblems(w, n) };
    }, best, naive, 'data'));
  } finally {
    await client.close();
    await server.stop();
  }
}
