/**
 * 4. Concurrency: many sessions created, then many streaming turns at once with WebSocket
 * clients attached (each subscribed to some of the running sessions): no error, no lost or
 * duplicated event, p50/p99 event latency (receive time minus the event's `time`, ms
 * resolution) against one turn alone on the same server.
 * 5c. Memory: after a smaller warm-up run (JIT, caches), the whole run is done twice on the same
 * server; the settled RSS after the second must not exceed the first by more than 10%.
 */
import { sseStream, fmtMB, fmtMs, quantile, rssOf, settledRss, startHttpServer, within, WsRpc, type Options, type Row, dataDir } from './lib.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const DELTAS = 50;

interface RunResult { latencies: number[]; errors: string[]; events: number; seconds: number }

/**
 * Subscribes `clients` WebSocket clients and `sseClients` SSE subscribers to the turn sessions
 * round-robin (an SSE subscriber holds one stream per session), runs one turn on each at once,
 * and checks every stream: contiguous seqs, every delta, a completed turn.
 */
async function run(server: { url: string; wsUrl: string }, driver: WsRpc, sessionCount: number, turnCount: number, clientCount: number, sseCount: number): Promise<RunResult> {
  const ids: string[] = [];
  for (let i = 0; i < sessionCount; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, sessionCount - i) }, () => driver.request('session/create', { provider: 'echo', model: 'echo-bench' })));
    ids.push(...batch.map((s: Json) => s.id));
  }
  const turnIds = ids.slice(0, turnCount);
  const latencies: number[] = [];
  const errors: string[] = [];
  let events = 0;
  const waits: Promise<void>[] = [];
  /** A checker for one subscriber's sessions. */
  const tracker = (label: string, mine: string[]) => {
    const state = new Map<string, { last: number; deltas: number; done: () => void }>();
    for (const sid of mine) waits.push(new Promise<void>((resolve) => state.set(sid, { last: -1, deltas: 0, done: resolve })));
    return (e: Json) => {
      const s = state.get(e.sessionId);
      if (!s) return void errors.push(`${label} got an event of ${e.sessionId} it did not subscribe to`);
      events++;
      latencies.push(Date.now() - Date.parse(e.time));
      if (s.last >= 0 && e.seq !== s.last + 1) errors.push(`${label} ${e.sessionId}: seq ${e.seq} after ${s.last}`);
      s.last = e.seq;
      if (e.type === 'message.delta') s.deltas++;
      if (e.type === 'turn.completed' || e.type === 'turn.failed') {
        if (e.type === 'turn.failed') errors.push(`${e.sessionId}: turn failed`);
        if (s.deltas !== DELTAS) errors.push(`${label} ${e.sessionId}: ${s.deltas} deltas of ${DELTAS}`);
        s.done();
      }
    };
  };
  const clients = await Promise.all(Array.from({ length: clientCount }, () => WsRpc.connect(server.wsUrl)));
  for (let c = 0; c < clients.length; c++) {
    const mine = turnIds.filter((_, j) => j % clients.length === c);
    const onEvent = tracker(`ws client ${c}`, mine);
    clients[c].onNotification = (m, e: Json) => { if (m === 'session/event') onEvent(e); };
    for (const sid of mine) await clients[c].request('session/subscribe', { sessionId: sid });
  }
  const streams: Array<{ close(): void }> = [];
  for (let c = 0; c < sseCount; c++) {
    const mine = turnIds.filter((_, j) => j % sseCount === c);
    const onEvent = tracker(`sse subscriber ${c}`, mine);
    for (const sid of mine) streams.push(await sseStream(`${server.url}/v1/session/${sid}/events`, onEvent, 'connected'));
  }
  const t0 = performance.now();
  const accepted = await Promise.allSettled(turnIds.map((sid) => driver.request('session/message', { sessionId: sid, content: `${DELTAS} 16`, async: true })));
  for (const a of accepted) if (a.status === 'rejected') errors.push(`session/message: ${(a.reason as Error).message}`);
  await within(Promise.all(waits), 120_000, 'all turns to complete');
  const seconds = (performance.now() - t0) / 1000;
  for (const s of streams) s.close();
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(ids.map((sid) => driver.request('session/delete', { sessionId: sid }).catch(() => {})));
  return { latencies, errors, events, seconds };
}

/** True when this build serves SSE (the REST bridge). */
async function hasSse(url: string, driver: WsRpc): Promise<boolean> {
  const s = await driver.request('session/create', {});
  try {
    const stream = await sseStream(`${url}/v1/session/${s.id}/events`, () => {}, 'connected');
    stream.close();
    return true;
  } catch {
    return false;
  } finally {
    await driver.request('session/delete', { sessionId: s.id }).catch(() => {});
  }
}

export async function concurrency(o: Options): Promise<Row[]> {
  const [sessions, turns, clients, sseWanted] = o.quick ? [200, 50, 25, 25] : [1000, 200, 100, 100];
  const server = await startHttpServer(dataDir());
  try {
    const driver = await WsRpc.connect(server.wsUrl);
    const sse = (await hasSse(server.url, driver)) ? sseWanted : 0;
    // Baseline: one turn alone (same size), same server, same measure.
    const alone: number[] = [];
    for (let i = 0; i < o.repeats; i++) alone.push(...(await run(server, driver, 1, 1, 1, 0)).latencies);
    const warm = await run(server, driver, Math.ceil(sessions / 4), Math.ceil(turns / 4), Math.ceil(clients / 4), Math.ceil(sse / 4));
    if (warm.errors.length) throw new Error(`warm-up run: ${warm.errors[0]}`);
    const runs: RunResult[] = [];
    const settled: number[] = [];
    for (let i = 0; i < 2; i++) {
      runs.push(await run(server, driver, sessions, turns, clients, sse));
      settled.push(await settledRss(server.proc.pid!, 5000));
      o.log(`concurrency run ${i + 1}: ${runs[i].events} events in ${runs[i].seconds.toFixed(2)} s, ${runs[i].errors.length} errors, settled RSS ${fmtMB(settled[i])}`);
    }
    await driver.close();
    const errors = runs.flatMap((r) => r.errors);
    const lat = runs.flatMap((r) => r.latencies);
    const expected = 2 * turns * (DELTAS + 4) * (sse ? 2 : 1);
    const events = runs.reduce((n, r) => n + r.events, 0);
    const name = `${sessions.toLocaleString('en-US')} sessions, ${turns} turns at once (${DELTAS} deltas), ${clients} WebSocket clients${sse ? `, ${sse} SSE subscribers` : ' (no SSE in this build)'}`;
    const note = `${events.toLocaleString('en-US')} events (≥ ${expected.toLocaleString('en-US')} expected), ${errors.length} errors/lost/duplicated${errors.length ? `: ${errors.slice(0, 2).join('; ')}` : ''}; 2 runs`;
    const ok = errors.length === 0 && events >= expected;
    const row = (q: number): Row => {
      const a = quantile(lat, q);
      const b = quantile(alone, q);
      // Event times have ms resolution: a ratio over less than 1 ms is taken over 1 ms.
      const r = a / Math.max(b, 1);
      return { group: '4. concurrency', name: `${name}: event latency p${q * 100}`, value: fmtMs(a), baselineName: 'one turn alone, same server', baseline: fmtMs(b), ratio: r, spread: [r, r], target: 'no error, no loss', met: ok, note };
    };
    const growth = settled[1] / settled[0];
    return [row(0.5), row(0.99), {
      group: '5. memory', name: 'settled RSS after a 2nd identical concurrency run', value: fmtMB(settled[1]),
      baselineName: 'settled RSS after the 1st run', baseline: fmtMB(settled[0]), ratio: growth, spread: [growth, growth],
      target: '≤ 1.10', met: growth <= 1.1, note: `RSS now ${fmtMB(rssOf(server.proc.pid!))}`,
    }];
  } finally {
    await server.stop();
  }
}
