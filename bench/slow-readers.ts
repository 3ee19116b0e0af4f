/**
 * Many slow readers during one streamed turn (issue 12's memory figure): `sse` SSE streams and
 * `ws` WebSocket subscribers that never read (raw sockets, paused), plus fast clients (two SSE,
 * two WebSocket) that must get every event, while an `echo-bench` turn streams `deltas` deltas of
 * `size` characters. Prints the server's peak and final RSS, how many slow readers the server
 * disconnected (and why) and whether every fast client got every event.
 *
 *   npm run bench:slow-readers --  [--sse 1000] [--ws 100] [--deltas 20000] [--size 100] [--cap BYTES]
 *
 * Each slow reader is a socket on both sides: the run needs about 2 × (sse + ws) + 100 file
 * descriptors (`ulimit -n`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SseStream } from '../test/helpers/driver.js';
import { rawSse, rawWs, rssOf, type Raw } from '../test/helpers/raw-http.js';
import { spawnHttp, tempDir, WsClient, type Json } from '../test/helpers/rpc-client.js';

export interface SlowReadersOptions {
  sse: number;
  ws: number;
  deltas: number;
  size: number;
  /** config.json of the server (limits). */
  config?: object;
  /** Fast clients that must get every event (default 2 SSE + 2 WebSocket). */
  fast?: { sse: number; ws: number };
  /**
   * Starts `agentd serve` on a data directory (default: test/helpers' spawnHttp, for this file
   * run with tsx; the compiled bench passes lib.ts's startHttpServer, whose paths fit dist/).
   */
  start?: (dataDir: string) => Promise<Server>;
}

/** The server as this bench uses it. */
export interface Server {
  proc: { pid?: number };
  url: string;
  wsUrl: string;
  stderr(): string;
  stop(): Promise<unknown>;
}

export interface SlowReadersResult {
  /** The server's RSS once every reader is connected, before the turn. */
  startRssBytes: number;
  peakRssBytes: number;
  finalRssBytes: number;
  /** Every fast client got every event of the turn, in order, without a gap. */
  fastOk: boolean;
  fastProblems: string[];
  events: number;
  disconnected: { total: number; connection: number };
  ms: number;
}

async function inBatches<T>(n: number, batch: number, open: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += batch) out.push(...await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, j) => open(i + j))));
  return out;
}

export async function slowReaders(o: SlowReadersOptions): Promise<SlowReadersResult> {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify(o.config ?? {}));
  const server = await (o.start ?? ((dataDir) => spawnHttp({ dataDir })))(dir);
  const slow: Raw[] = [];
  const fastSse: SseStream[] = [];
  const fastWs: WsClient[] = [];
  try {
    const created = await (await fetch(`${server.url}/v1/session`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'slow-readers', model: 'echo-bench' }),
    })).json();
    const sid: string = created.id;
    // Readers that never read: the socket is paused once the stream is open, so the kernel
    // buffers fill and everything else stays with the server.
    slow.push(...await inBatches(o.sse, 50, async () => { const c = await rawSse(server.url, `/v1/session/${sid}/events`); c.socket.pause(); return c; }));
    slow.push(...await inBatches(o.ws, 25, async () => { const c = await rawWs(server.wsUrl, sid); c.socket.pause(); return c; }));
    for (let i = 0; i < (o.fast?.sse ?? 2); i++) fastSse.push(await SseStream.open(`${server.url}/v1/session/${sid}/events`));
    for (let i = 0; i < (o.fast?.ws ?? 2); i++) {
      const c = await WsClient.connect(server.wsUrl);
      await c.initialize();
      await c.request('session/subscribe', { sessionId: sid });
      fastWs.push(c);
    }
    const startRssBytes = rssOf(server.proc.pid!).rss;
    const started = Date.now();
    const reply = await fetch(`${server.url}/v1/session/${sid}/message`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: `${o.deltas} ${o.size}` }),
    });
    const message = await reply.json();
    const problems: string[] = [];
    if (reply.status !== 200 || message.status !== 'complete') problems.push(`session/message answered ${reply.status} ${message.status}`);
    const lastSeq = (await (await fetch(`${server.url}/v1/session/${sid}`)).json()).session?.lastSeq as number | undefined;
    const check = (name: string, events: Json[]) => {
      const seqs = events.map((e) => e.seq as number);
      const deltas = events.filter((e) => e.type === 'message.delta').length;
      if (deltas !== o.deltas) problems.push(`${name}: ${deltas} of ${o.deltas} deltas`);
      if (seqs.some((s, i) => i > 0 && s !== seqs[i - 1] + 1)) problems.push(`${name}: a gap or duplicate in seqs`);
      if (lastSeq !== undefined && seqs[seqs.length - 1] !== lastSeq) problems.push(`${name}: last seq ${seqs[seqs.length - 1]}, session at ${lastSeq}`);
    };
    const waitAll = 120_000;
    await Promise.all([
      ...fastSse.map((s) => s.waitFor(() => s.events.some((e) => e.type === 'turn.completed'), waitAll, 'fast SSE turn.completed').catch((e) => problems.push(String(e)))),
      ...fastWs.map((c) => c.waitFor(() => c.events(sid).some((e: Json) => e.type === 'turn.completed'), waitAll, 'fast WS turn.completed').catch((e) => problems.push(String(e)))),
    ]);
    fastSse.forEach((s, i) => check(`fast SSE ${i + 1}`, s.events));
    fastWs.forEach((c, i) => check(`fast WebSocket ${i + 1}`, c.events(sid)));
    const ms = Date.now() - started;
    const { rss, peak } = rssOf(server.proc.pid!);
    const lines = server.stderr().split('\n').filter((l) => l.includes('not reading; disconnecting'));
    return {
      startRssBytes, peakRssBytes: peak, finalRssBytes: rss, fastOk: problems.length === 0, fastProblems: problems,
      events: fastWs[0]?.events(sid).length ?? fastSse[0]?.events.length ?? 0,
      disconnected: { total: lines.filter((l) => l.includes('"why":"total"')).length, connection: lines.filter((l) => l.includes('"why":"connection"')).length },
      ms,
    };
  } finally {
    for (const c of slow) c.socket.destroy();
    await Promise.all(fastSse.map((s) => s.close()));
    await Promise.all(fastWs.map((c) => c.close()));
    await server.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string, d: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const cap = arg('cap', 0);
  const o = { sse: arg('sse', 1000), ws: arg('ws', 100), deltas: arg('deltas', 20_000), size: arg('size', 100), config: cap ? { limits: { totalSendBufferBytes: cap } } : {} };
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;
  console.log(`slow readers: ${o.sse} SSE + ${o.ws} WebSocket, fast: 2 SSE + 2 WebSocket; one turn of ${o.deltas} deltas of ${o.size} characters (default limits)`);
  const r = await slowReaders(o);
  console.log(`server RSS: peak ${mb(r.peakRssBytes)}, after the turn ${mb(r.finalRssBytes)} (${r.peakRssBytes < 2 ** 30 ? 'under' : 'OVER'} 1 GB)`);
  console.log(`slow readers disconnected: ${r.disconnected.total} for the server-wide buffer, ${r.disconnected.connection} for their own`);
  console.log(`fast clients got every event (${r.events} events each): ${r.fastOk ? 'yes' : `NO: ${r.fastProblems.join('; ')}`}`);
  console.log(`turn took ${r.ms} ms`);
  process.exitCode = r.fastOk && r.peakRssBytes < 2 ** 30 ? 0 : 1;
}
