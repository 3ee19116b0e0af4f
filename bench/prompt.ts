/**
 * 3. Prompt overhead: one full turn against a local scripted Anthropic Messages API server (a
 * 50-delta SSE stream) through agentd over stdio and WebSocket, versus the same request made
 * directly with @anthropic-ai/sdk against the same server. Figure: median added latency.
 * Skipped (one row saying so) when this build has no `anthropic` provider.
 */
import Anthropic from '@anthropic-ai/sdk';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fmtMs, median, ratioRow, StdioServer, startHttpServer, tempDir, within, WsRpc, type Options, type Row, dataDir } from './lib.js';
import { TurnWatch } from './throughput.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const DELTAS = 50;

/** POST /v1/messages answers every request with the same 50-delta stream, as fast as it can. */
function scriptedAnthropic(): Promise<{ server: Server; url: string }> {
  const sse = (event: string, data: Json) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  let n = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.startsWith('/v1/messages')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'not found' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': `req_bench_${++n}` });
      let out = sse('message_start', { type: 'message_start', message: { id: `msg_bench_${n}`, type: 'message', role: 'assistant', model: 'claude-bench', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } } });
      out += sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
      for (let i = 0; i < DELTAS; i++) out += sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `word${i} ` } });
      out += sse('content_block_stop', { type: 'content_block_stop', index: 0 });
      out += sse('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: DELTAS } });
      out += sse('message_stop', { type: 'message_stop' });
      res.end(out);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

export async function prompt(o: Options): Promise<Row[]> {
  const anthropic = await scriptedAnthropic();
  const env = { ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_API_KEY: 'sk-ant-bench-not-a-key' };
  const saved = { ...process.env };
  Object.assign(process.env, env);
  const rows: Row[] = [];
  const n = o.quick ? 10 : 30;
  try {
    const direct = new Anthropic({ baseURL: anthropic.url, apiKey: env.ANTHROPIC_API_KEY, maxRetries: 0 });
    const sdkTurn = async () => {
      const t0 = performance.now();
      const stream = await direct.messages.create({ model: 'claude-bench', max_tokens: 1024, stream: true, messages: [{ role: 'user', content: 'hello' }] });
      let deltas = 0;
      for await (const e of stream) if (e.type === 'content_block_delta') deltas++;
      if (deltas !== DELTAS) throw new Error(`sdk got ${deltas} deltas`);
      return performance.now() - t0;
    };
    for (let i = 0; i < 3; i++) await sdkTurn();

    // stdio (the child inherits ANTHROPIC_BASE_URL and the fake key through process.env).
    const stdio = await StdioServer.start(dataDir());
    const ws = await startHttpServer(dataDir());
    const wsc = await WsRpc.connect(ws.wsUrl);
    try {
      const providers = await stdio.request('provider/list', {}).catch(() => ({ providers: [] }));
      if (!providers.providers?.some((p: Json) => p.id === 'anthropic')) {
        return [{ group: '3. prompt overhead', name: 'one turn, 50 deltas, scripted Anthropic server', value: 'n/a', baseline: 'n/a', baselineName: '@anthropic-ai/sdk direct', ratio: NaN, spread: [NaN, NaN], note: 'skipped: this build has no `anthropic` provider' }];
      }
      let watch: TurnWatch | undefined;
      stdio.conn.onNotification('session/event', (e: Json) => watch?.onEvent(e));
      wsc.onNotification = (m, e) => { if (m === 'session/event') watch?.onEvent(e); };
      const transports = [
        { name: 'stdio', request: (m: string, p: unknown) => stdio.request(m, p) },
        { name: 'WebSocket', request: (m: string, p: unknown) => wsc.request(m, p) },
      ];
      for (const t of transports) {
        const a: number[] = [];
        const b: number[] = [];
        for (let i = 0; i < n + 2; i++) {
          const s = await t.request('session/create', { provider: 'anthropic', model: 'claude-bench' }) as Json;
          await t.request('session/subscribe', { sessionId: s.id });
          watch = new TurnWatch(s.id);
          const t0 = performance.now();
          await within(Promise.all([t.request('session/message', { sessionId: s.id, content: 'hello' }), watch.done]), 30_000, 'anthropic turn');
          const ms = watch.t1 - t0;
          if (watch.errors.length || watch.deltas !== DELTAS) throw new Error(`${t.name}: ${watch.deltas} deltas, ${watch.errors[0] ?? ''}`);
          const base = await sdkTurn();
          if (i >= 2) { a.push(ms); b.push(base); } // two warm-up turns
        }
        const added = a.map((x, i) => x - b[i]);
        const addedMedian = median(added);
        o.log(`prompt ${t.name}: agentd ${fmtMs(median(a))} sdk ${fmtMs(median(b))} added ${fmtMs(addedMedian)}`);
        rows.push({
          ...ratioRow({ group: '3. prompt overhead', name: `${t.name}: one turn, ${DELTAS} deltas, scripted Anthropic server`, baselineName: '@anthropic-ai/sdk direct, same server' }, a, b, fmtMs),
          target: '≤ +5 ms', met: addedMedian <= 5, judged: `+${fmtMs(addedMedian)}`,
          note: `added ${fmtMs(addedMedian)} (min ${fmtMs(Math.min(...added))}, max ${fmtMs(Math.max(...added))}) over ${n} turns`,
        });
      }
    } finally {
      await wsc.close();
      await ws.stop();
      await stdio.stop();
    }
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
    anthropic.server.close();
    anthropic.server.closeAllConnections();
  }
  return rows;
}
