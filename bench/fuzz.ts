/**
 * `npm run fuzz`: the full-size adversarial run. FUZZ_TOTAL (default 10,000) seeded malformed
 * inputs per transport (stdio, WebSocket, REST), each against one server process that must answer
 * every one with its typed error (a silent notification: a request right after it is still
 * served), then still serve a full turn. Prints inputs sent, crashes, typed answers and RSS before
 * and after; exits 1 on any crash or failure. Runs with tsx from the checkout (after the build).
 */
import fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { methodTable } from '../protocol/index.js';
import { fullTurn, fuzzCases, runRpcFuzz } from '../test/helpers/fuzz-inputs.js';
import { spawnHttp, spawnStdio, tempDir, WsClient, type RpcClient } from '../test/helpers/rpc-client.js';

const TOTAL = Number(process.env.FUZZ_TOTAL ?? 10_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261125);

const rss = (pid: number) => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024);
const config = (limits: object = {}) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ limits, security: { rateLimit: { messagesPerSecond: 1_000_000, burst: 1_000_000, requestsPerMinute: 10_000_000 } } }));
  return dir;
};

interface Row { transport: string; sent: number; answered: number; typed: number; silent: number; crashes: number; failures: string[]; rssBefore: number; rssAfter: number; seconds: number; turnAfter: boolean }

/** Enough cases from the seeded generator to reach TOTAL (it yields about 30 kinds × perKind). */
function casesFor(sessionId: string) {
  const probe = fuzzCases(SEED, 10, sessionId).length / 10;
  return fuzzCases(SEED, Math.ceil(TOTAL / probe), sessionId).slice(0, TOTAL);
}

async function rpc(transport: 'stdio' | 'websocket'): Promise<Row> {
  const dataDir = config();
  let client: RpcClient;
  let pid: number;
  let alive: () => boolean;
  let stop: () => Promise<unknown>;
  if (transport === 'stdio') {
    const c = spawnStdio({ dataDir });
    client = c; pid = c.proc.pid!; alive = () => c.proc.exitCode === null && c.proc.signalCode === null; stop = () => c.close();
  } else {
    const server = await spawnHttp({ dataDir });
    const c = await WsClient.connect(server.wsUrl);
    client = c; pid = server.proc.pid!;
    alive = () => server.proc.exitCode === null && server.proc.signalCode === null && c.ws.readyState === 1;
    stop = async () => { await c.close(); await server.stop(); };
  }
  await client.initialize();
  const s = await client.request('session/create', { name: 'keep' });
  const cases = casesFor(s.id);
  const rssBefore = rss(pid);
  const t0 = Date.now();
  const stats = await runRpcFuzz(client, cases, 600_000);
  const seconds = (Date.now() - t0) / 1000;
  const rssAfter = rss(pid);
  let turnAfter = false;
  try { await fullTurn(client, 'after fuzz'); turnAfter = true; } catch (err) { stats.failures.push(`full turn after: ${(err as Error).message}`); }
  const crashes = alive() ? 0 : 1;
  await stop();
  return { transport, sent: stats.sent, answered: stats.answered, typed: stats.typed, silent: stats.silentOk, crashes, failures: stats.failures, rssBefore, rssAfter, seconds, turnAfter };
}

type Rest = { method: string; path: string };
const routes = Object.entries(methodTable as Record<string, { rest?: Rest }>).filter(([, m]) => m.rest).map(([, m]) => m.rest!);

async function rest(): Promise<Row> {
  const server = await spawnHttp({ dataDir: config({ maxBodyBytes: 65536 }) });
  const base = server.url;
  const post = (path: string, body: string, ct = 'application/json') => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': ct }, body });
  const keep = await (await post('/v1/session', '{"name":"keep"}')).json() as { id: string };
  const junk = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.string(), { maxKeys: 3 }));
  const fill = (p: string, v: string) => p.replace(/\{\w+\}/g, encodeURIComponent(v));
  const posts = routes.filter((r) => r.method === 'POST' || r.method === 'PUT');
  const per = Math.ceil(TOTAL / 8);
  const sample = <T>(arb: fc.Arbitrary<T>, salt: number) => fc.sample(arb, { seed: SEED + salt, numRuns: per });
  type Case = { method: string; path: string; ct?: string; body?: string };
  const cases: Case[] = [];
  for (const [r, s] of sample(fc.tuple(fc.constantFrom(...posts), fc.string({ minLength: 1 }).filter((s) => { try { JSON.parse(s); return false; } catch { return true; } })), 1)) cases.push({ method: r.method, path: fill(r.path, keep.id), body: s });
  for (const [r, ct] of sample(fc.tuple(fc.constantFrom(...posts), fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/xml')), 2)) cases.push({ method: r.method, path: fill(r.path, keep.id), ct, body: 'a=b' });
  for (const [r, n] of sample(fc.tuple(fc.constantFrom(...posts), fc.integer({ min: 70_000, max: 200_000 })), 3)) cases.push({ method: r.method, path: fill(r.path, keep.id), body: JSON.stringify({ name: 'x'.repeat(n) }) });
  for (const [r, body] of sample(fc.tuple(fc.constantFrom(...posts), fc.dictionary(fc.constantFrom('name', 'content', 'model', 'provider', 'decision', 'permissionId', 'config', 'x'), junk, { minKeys: 1, maxKeys: 4 })), 4)) cases.push({ method: r.method, path: fill(r.path, `nope_${keep.id}`), body: JSON.stringify(body) });
  for (const p of sample(fc.string({ minLength: 1, maxLength: 30 }).map((s) => `/v1/${encodeURIComponent(s)}/zz`), 5)) cases.push({ method: 'GET', path: p });
  for (const d of sample(fc.integer({ min: 100, max: 20_000 }), 6)) cases.push({ method: 'POST', path: '/v1/session', body: `{"name":${'['.repeat(d)}${']'.repeat(d)}}` });
  for (const sid of sample(fc.string({ minLength: 1, maxLength: 40 }), 7)) cases.push({ method: 'GET', path: `/v1/session/${encodeURIComponent(`${sid}_x`)}` });
  for (const [r, body] of sample(fc.tuple(fc.constantFrom(...posts), junk.map((v) => JSON.stringify(v))), 8)) cases.push({ method: r.method, path: fill(r.path, keep.id), body });
  const rssBefore = rss(server.proc.pid!);
  const t0 = Date.now();
  let sent = 0, answered = 0, typed = 0;
  const failures: string[] = [];
  for (const c of cases.slice(0, TOTAL)) {
    sent++;
    try {
      const res = await fetch(`${base}${c.path}`, { method: c.method, headers: c.body === undefined ? {} : { 'content-type': c.ct ?? 'application/json' }, body: c.body });
      const text = await res.text();
      answered++;
      let code: unknown;
      try { code = JSON.parse(text).error?.code; } catch { /* below */ }
      if (res.status >= 400 && res.status < 500 && typeof code === 'number') typed++;
      else if (res.status >= 200 && res.status < 300) typed++; // e.g. a junk body that happens to be valid params
      else failures.push(`${c.method} ${c.path.slice(0, 50)} → ${res.status} ${text.slice(0, 100)}`);
    } catch (err) {
      failures.push(`${c.method} ${c.path.slice(0, 50)}: ${(err as Error).message}`);
    }
  }
  const seconds = (Date.now() - t0) / 1000;
  const rssAfter = rss(server.proc.pid!);
  let turnAfter = false;
  try {
    const s = await (await post('/v1/session', '{"name":"after"}')).json() as { id: string };
    const m = await (await post(`/v1/session/${s.id}/message`, '{"content":"after fuzz"}')).json() as { content: Array<{ text: string }> };
    turnAfter = m.content[0].text === 'Echo: after fuzz';
  } catch (err) { failures.push(`turn after: ${(err as Error).message}`); }
  const crashes = server.proc.exitCode === null && server.proc.signalCode === null ? 0 : 1;
  await server.stop();
  return { transport: 'rest', sent, answered, typed, silent: 0, crashes, failures, rssBefore, rssAfter, seconds, turnAfter };
}

const rows: Row[] = [];
for (const run of [() => rpc('stdio'), () => rpc('websocket'), rest]) {
  const row = await run();
  rows.push(row);
  console.log(`${row.transport}: ${row.sent} sent, ${row.answered} answered (${row.typed} typed errors, ${row.silent} silent notifications/responses followed by a served request), ${row.crashes} crashes, ${row.failures.length} failures, RSS ${row.rssBefore} → ${row.rssAfter} MB, ${row.seconds.toFixed(1)} s, full turn after: ${row.turnAfter ? 'yes' : 'NO'}`);
  for (const f of row.failures.slice(0, 10)) console.log(`  ${f}`);
}
const bad = rows.some((r) => r.crashes || r.failures.length || r.answered !== r.sent || !r.turnAfter);
process.exit(bad ? 1 : 0);
