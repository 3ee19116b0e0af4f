/**
 * 4. Concurrency: many sessions created (1,000 in a full run), then many streaming turns at once
 * (200) with WebSocket clients and SSE subscribers attached (each subscribed to some of the
 * running sessions). Rows with targets: 0 errors, 0 events lost, p99 event latency ≤ 5× p50
 * (receive time minus the event's `time`, ms resolution); p50 and p99 against one turn alone on
 * the same server are kept for reference.
 * 5c. Memory: after a smaller warm-up run (JIT, caches), the whole run is done twice on the same
 * server; the settled RSS after the second must not exceed the first by more than 10%.
 */
import { sseStream, fmtMB, fmtMs, quantile, rssOf, settledRss, startHttpServer, within, WsRpc, type Options, type Row, dataDir } from './lib.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const DELTAS = 50;

/** `lost`: events a subscriber should have had and did not (seq gaps, missing deltas), with a reason each. */
interface RunResult { latencies: number[]; errors: string[]; lost: { count: number; why: string }[]; events: number; seconds: number }

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
  const lost: { count: number; why: string }[] = [];
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
      if (s.last >= 0 && e.seq > s.last + 1) lost.push({ count: e.seq - s.last - 1, why: `${label} ${e.sessionId}: seq ${e.seq} after ${s.last}` });
      else if (s.last >= 0 && e.seq !== s.last + 1) errors.push(`${label} ${e.sessionId}: seq ${e.seq} after ${s.last} (duplicate or out of order)`);
      s.last = e.seq;
      if (e.type === 'message.delta') s.deltas++;
      if (e.type === 'turn.completed' || e.type === 'turn.failed') {
        if (e.type === 'turn.failed') errors.push(`${e.sessionId}: turn failed`);
        if (s.deltas < DELTAS) lost.push({ count: DELTAS - s.deltas, why: `${label} ${e.sessionId}: ${s.deltas} deltas of ${DELTAS}` });
        else if (s.deltas > DELTAS) errors.push(`${label} ${e.sessionId}: ${s.deltas} deltas of ${DELTAS}`);
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
  return { latencies, errors, lost, events, seconds };
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
    if (warm.errors.length || warm.lost.length) throw new Error(`warm-up run: ${[...warm.errors, ...warm.lost.map((l) => l.why)][0]}`);
    const runs: RunResult[] = [];
    const settled: number[] = [];
    for (let i = 0; i < 2; i++) {
      runs.push(await run(server, driver, sessions, turns, clients, sse));
      settled.push(await settledRss(server.proc.pid!, 5000));
      o.log(`concurrency run ${i + 1}: ${runs[i].events} events in ${runs[i].seconds.toFixed(2)} s, ${runs[i].errors.length} errors, ${runs[i].lost.length} losses, settled RSS ${fmtMB(settled[i])}`);
    }
    await driver.close();
    const errors = runs.flatMap((r) => r.errors);
    const losses = runs.flatMap((r) => r.lost);
    const lostCount = losses.reduce((n, l) => n + l.count, 0);
    const lat = runs.flatMap((r) => r.latencies);
    const expected = 2 * turns * (DELTAS + 4) * (sse ? 2 : 1);
    const events = runs.reduce((n, r) => n + r.events, 0);
    const name = `${sessions.toLocaleString('en-US')} sessions, ${turns} turns at once (${DELTAS} deltas), ${clients} WebSocket clients${sse ? `, ${sse} SSE subscribers` : ' (no SSE in this build)'}`;
    const runsNote = `${events.toLocaleString('en-US')} events (≥ ${expected.toLocaleString('en-US')} expected); 2 runs`;
    const group = '4. concurrency';
    const none = { baselineName: 'none allowed', baseline: '0', ratio: NaN, spread: [NaN, NaN] as [number, number], target: '0' };
    const row = (q: number): Row => {
      const a = quantile(lat, q);
      const b = quantile(alone, q);
      // Event times have ms resolution: a ratio over less than 1 ms is taken over 1 ms.
      const r = a / Math.max(b, 1);
      return { group, name: `${name}: event latency p${q * 100}, reference`, value: fmtMs(a), baselineName: 'one turn alone, same server', baseline: fmtMs(b), ratio: r, spread: [r, r], note: 'reference (no target)' };
    };
    const p50 = quantile(lat, 0.5);
    const p99 = quantile(lat, 0.99);
    // ms resolution again: a p50 under 1 ms is taken as 1 ms.
    const spread = p99 / Math.max(p50, 1);
    const growth = settled[1] / settled[0];
    return [
      { group, name: `${name}: errors`, value: String(errors.length), ...none, met: errors.length === 0, judged: String(errors.length), note: errors.length ? errors.slice(0, 2).join('; ') : `no error (failed turns, rejected requests, duplicates, foreign events); ${runsNote}` },
      { group, name: `${name}: events lost`, value: String(lostCount), ...none, met: lostCount === 0 && events >= expected, judged: `${lostCount}${events < expected ? `, ${events} of ≥ ${expected} events` : ''}`, note: losses.length ? losses.slice(0, 2).map((l) => l.why).join('; ') : `every subscriber got every delta, contiguous seqs; ${runsNote}` },
      { group, name: `${name}: event latency p99 / p50`, value: `p99 ${fmtMs(p99)}`, baselineName: 'p50 of the same run', baseline: `p50 ${fmtMs(p50)}`, ratio: spread, spread: [spread, spread], target: '≤ 5', met: spread <= 5, note: `receive time minus the event's time (ms resolution; a p50 under 1 ms counts as 1 ms), ${lat.length.toLocaleString('en-US')} events` },
      row(0.5),
      row(0.99),
      {
        group: '5. memory', name: 'settled RSS after a 2nd identical concurrency run', value: fmtMB(settled[1]),
        baselineName: 'settled RSS after the 1st run', baseline: fmtMB(settled[0]), ratio: growth, spread: [growth, growth],
        target: '≤ 1.10', met: growth <= 1.1, note: `RSS now ${fmtMB(rssOf(server.proc.pid!))}`,
      },
    ];
  } finally {
    await server.stop();
  }
}
