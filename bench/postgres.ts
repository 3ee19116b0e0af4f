/**
 * 7. PostgreSQL (issue 21): the same server on the PostgreSQL store (`serve --store postgres://`,
 * a throwaway cluster started by test/helpers/postgres.ts: initdb into a temp dir, pg_ctl on a
 * loopback port, fsync off) beside one on the default SQLite store, measured alternately in the
 * same run over WebSocket: event throughput (one `echo-bench` turn of N deltas, every delta
 * checked, contiguous seqs) and turn latency (a one-word `echo` turn, from `session/message` to
 * `turn.completed`). Ratio PostgreSQL / SQLite; informational, no target. When no cluster can be
 * started the rows say why.
 */
import { startPostgres } from '../test/helpers/postgres.js';
import { dataDir, fmtMs, fmtRate, median, ratioRow, startHttpServer, within, WsRpc, type Options, type Row } from './lib.js';
import { TurnWatch, turnProblems } from './throughput.js';

const GROUP = '7. PostgreSQL';

/** A server on one store with a subscribed WebSocket client. */
async function open(serveArgs: string[]) {
  const server = await startHttpServer(dataDir(), serveArgs);
  const client = await WsRpc.connect(server.wsUrl);
  let watch: TurnWatch | undefined;
  client.onNotification = (m, p) => { if (m === 'session/event') watch?.onEvent(p); };
  /** One turn on a new or given session; its duration in ms and its problems. */
  const turn = async (model: string, content: string, n: number, sessionId?: string) => {
    const sid = sessionId ?? (await client.request('session/create', { provider: 'echo', model })).id;
    if (!sessionId) await client.request('session/subscribe', { sessionId: sid });
    const w = watch = new TurnWatch(sid);
    const t0 = performance.now();
    await within(Promise.all([client.request('session/message', { sessionId: sid, content }), w.done]), 300_000, `${serveArgs.join(' ') || 'sqlite'} turn`);
    return { ms: w.t1 - t0, problems: n ? turnProblems(w, n) : w.errors, sessionId: sid };
  };
  return {
    turn,
    async stop() {
      await client.close();
      await server.stop();
    },
  };
}

export async function postgres(o: Options): Promise<Row[]> {
  // Smaller than the SQLite benches: the PostgreSQL store pays a database round trip per event,
  // and (as of this writing) its append slows down as the events table grows.
  const n = o.quick ? 2000 : 5000;
  const turns = o.quick ? 5 : 30;
  const repeats = Math.min(o.repeats, 3);
  const names = [`event throughput, one turn of ${n.toLocaleString('en-US')} deltas (WebSocket)`, `turn latency, a one-word echo turn (WebSocket, median of ${turns} per repeat)`];
  const pg = await startPostgres();
  if ('skip' in pg) {
    return names.map((name) => ({ group: GROUP, name, value: 'n/a', baselineName: 'the same on SQLite', baseline: 'n/a', ratio: NaN, spread: [NaN, NaN], target: 'informational', note: `skipped: ${pg.skip}` }));
  }
  const servers: Array<Awaited<ReturnType<typeof open>>> = [];
  try {
    const url = await pg.newDatabase();
    const sqlite = await open([]);
    servers.push(sqlite);
    const onPg = await open(['--store', url]);
    servers.push(onPg);
    const problems: string[] = [];
    // Warm-up of both (not counted, checked).
    for (const s of [sqlite, onPg]) problems.push(...(await s.turn('echo-bench', '500 16', 500)).problems);
    const rate = { pg: [] as number[], sqlite: [] as number[] };
    const latency = { pg: [] as number[], sqlite: [] as number[] };
    const sessions: { pg?: string; sqlite?: string } = {};
    for (let r = 0; r < repeats; r++) {
      for (const [key, s] of [['sqlite', sqlite], ['pg', onPg]] as const) {
        const t = await s.turn('echo-bench', `${n} 16`, n);
        rate[key].push(n / (t.ms / 1000));
        problems.push(...t.problems);
      }
      const times = { pg: [] as number[], sqlite: [] as number[] };
      for (let i = 0; i < turns; i++) {
        for (const [key, s] of [['sqlite', sqlite], ['pg', onPg]] as const) {
          const t = await s.turn('echo', `hi ${i}`, 0, sessions[key]);
          sessions[key] = t.sessionId;
          times[key].push(t.ms);
          problems.push(...t.problems);
        }
      }
      latency.pg.push(median(times.pg));
      latency.sqlite.push(median(times.sqlite));
    }
    o.log(`postgres: rate pg ${rate.pg.map(Math.round)} sqlite ${rate.sqlite.map(Math.round)} /s; latency pg ${latency.pg.map((x) => x.toFixed(1))} sqlite ${latency.sqlite.map((x) => x.toFixed(1))} ms`);
    const note = problems.length ? `${problems.length} problems: ${problems.slice(0, 2).join('; ')}` : 'informational (no target); no event lost';
    const perRepeat = (xs: number[], fmt: (v: number) => string) => `PostgreSQL per repeat, in order: ${xs.map(fmt).join(', ')}`;
    const rows: Row[] = [
      { ...ratioRow({ group: GROUP, name: names[0], baselineName: 'the same on SQLite, same run' }, rate.pg, rate.sqlite, fmtRate), note: `${note}; ${perRepeat(rate.pg, fmtRate)}` },
      { ...ratioRow({ group: GROUP, name: names[1], baselineName: 'the same on SQLite, same run' }, latency.pg, latency.sqlite, fmtMs), note: `${note}; ${perRepeat(latency.pg, fmtMs)}` },
    ];
    return rows.map((row) => ({ ...row, target: 'informational', ...(problems.length ? { met: false } : {}) }));
  } finally {
    for (const s of servers) await s.stop();
    pg.stop();
  }
}
