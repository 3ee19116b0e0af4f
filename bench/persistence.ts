/**
 * 6. Persistence: (a) events appended per second through the event log (serialize, deliver to a
 * subscriber, persist in batches; the store's durability settings: WAL, synchronous=NORMAL),
 * against raw better-sqlite3 inserting the same rows in the same table with the same settings,
 * one transaction per 64 rows. (b) Replay of a long session to a late subscriber: a second
 * `agentd serve --stdio` on the same data directory subscribes with `since: 0`, against the
 * best raw pipe writer (target ≥ 0.6) and vscode-jsonrpc (reference) moving the same number of
 * same-sized messages over a pipe to the same reader. (c) Paging a long
 * history: session/messages pages of 50 through a 10,000-message session over stdio, per page,
 * against the same pages of a 100-message session (constant time per page: ratio near 1).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { EventLog } from '../server/events/log.js';
import { createLogger } from '../server/log.js';
import { SqliteStore } from '../server/store/sqlite.js';
import { fmtRate, ratioRow, removeDir, ROOT, StdioServer, tempDir, within, type Options, type Row, dataDir } from './lib.js';
import { pipeSender } from './raw.js';
import { DELIVERY_TARGET, TurnWatch } from './throughput.js';
import type { Message } from '../protocol/index.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

async function appendAgentd(n: number, chunk: number): Promise<number> {
  const dir = tempDir();
  const store = new SqliteStore(join(dir, 'agentd.db'));
  const log = new EventLog(store, createLogger('warn'));
  let seen = 0;
  log.on('ses_bench', () => { seen++; });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    log.append('ses_bench', 'message.delta', { messageId: 'msg_bench', turnId: 'turn_bench', index: 0, delta: { type: 'text_delta', text: 'xxxxxxxxxxxxxxx ' } });
    if (i % chunk === chunk - 1) await tick();
  }
  await log.settled();
  const rate = n / ((performance.now() - t0) / 1000);
  const stored = (await store.eventsSince('ses_bench', 0, n + 1)).length;
  await store.close();
  removeDir(dir);
  if (seen !== n || stored !== n) throw new Error(`append: delivered ${seen}, stored ${stored} of ${n}`);
  return rate;
}

async function appendRaw(n: number, chunk: number): Promise<number> {
  const dir = tempDir();
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, session_id TEXT, seq INTEGER NOT NULL, type TEXT NOT NULL, json TEXT NOT NULL); CREATE UNIQUE INDEX events_session_seq ON events(session_id, seq);');
  const insert = db.prepare('INSERT INTO events (id, session_id, seq, type, json) VALUES (?, ?, ?, ?, ?)');
  const tx = db.transaction((rows: Array<[number, string]>) => { for (const [id, json] of rows) insert.run(id, 'ses_bench', id, 'message.delta', json); });
  const t0 = performance.now();
  let rows: Array<[number, string]> = [];
  for (let i = 1; i <= n; i++) {
    // The same JSON text the event log stores, built here so the baseline pays for it too.
    rows.push([i, JSON.stringify({ id: i, sessionId: 'ses_bench', seq: i, type: 'message.delta', time: new Date().toISOString(), data: { messageId: 'msg_bench', turnId: 'turn_bench', index: 0, delta: { type: 'text_delta', text: 'xxxxxxxxxxxxxxx ' } } })]);
    if (rows.length === chunk) {
      const batch = rows;
      rows = [];
      setImmediate(() => tx(batch));
      await tick();
    }
  }
  tx(rows);
  const rate = n / ((performance.now() - t0) / 1000);
  db.close();
  removeDir(dir);
  return rate;
}

/** A session of `n` messages written straight into the store of `dir` (no turns: the bench is about reading). */
function seedSession(dir: string, n: number): { id: string; plans: string[] } {
  const store = new SqliteStore(join(dir, 'agentd.db'));
  const t = new Date().toISOString();
  const id = `ses_bench${n}`;
  const messages: Message[] = Array.from({ length: n }, (_, i) => ({
    id: `msg_bench${n}_${String(i).padStart(6, '0')}`, sessionId: id, turnId: `turn_bench${Math.floor(i / 2)}`, role: i % 2 ? 'assistant' : 'user',
    content: [{ type: 'text', text: `message ${i} ${'x'.repeat(200)}` }], status: 'complete', createdAt: t,
  }));
  store.insertSessionWithMessages({ id, name: 'bench', provider: 'echo', model: 'echo', workspaceRoot: ROOT, status: 'idle', activeTurnId: null, createdAt: t, updatedAt: t }, messages);
  const plans = store.explainPaging();
  store.close();
  return { id, plans };
}

/** Pages through the whole session `rounds` times; the time of each page request, in ms. */
async function pageTimes(server: StdioServer, sessionId: string, rounds: number, expected: number): Promise<number[]> {
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const seen = new Set<string>();
    let before: string | null = null;
    do {
      const t0 = performance.now();
      const page: { messages: Message[]; nextCursor: string | null } = await server.request('session/messages', { sessionId, limit: 50, ...(before ? { before } : {}) });
      times.push(performance.now() - t0);
      for (const m of page.messages) seen.add(m.id);
      before = page.nextCursor;
    } while (before);
    if (seen.size !== expected) throw new Error(`paging saw ${seen.size} of ${expected} messages`);
  }
  return times;
}

const medianOf = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function paging(o: Options): Promise<Row> {
  const dir = dataDir();
  const big = seedSession(dir, 10_000);
  const small = seedSession(dir, 100);
  const server = await StdioServer.start(dir);
  const a: number[] = [];
  const b: number[] = [];
  let firstPages: number[] = [];
  let lastPages: number[] = [];
  for (let r = 0; r < o.repeats; r++) {
    const bigTimes = await pageTimes(server, big.id, 1, 10_000);
    const smallTimes = await pageTimes(server, small.id, 100, 100);
    a.push(medianOf(bigTimes));
    b.push(medianOf(smallTimes));
    firstPages = firstPages.concat(bigTimes.slice(0, 10));
    lastPages = lastPages.concat(bigTimes.slice(-10));
  }
  await server.stop();
  removeDir(dir);
  o.log(`paging: 10k ${a.map((x) => x.toFixed(2))} ms/page, 100 ${b.map((x) => x.toFixed(2))} ms/page`);
  const indexed = big.plans.every((p) => p.includes('USING INDEX') && !p.includes('TEMP B-TREE'));
  // ratioRow divides agentd by baseline: here a time, so a ratio near 1 means no growth with length.
  return {
    ...ratioRow({ group: '6. persistence', name: 'session/messages page of 50, 10,000-message session (stdio, per page, all 200 pages)', baselineName: 'the same pages of a 100-message session' }, a, b, (v) => `${v.toFixed(2)} ms`),
    target: '≤ 1.5 (constant per page)',
    met: indexed && median(a.map((x, i) => x / b[i])) <= 1.5,
    note: `newest 10 pages ${medianOf(firstPages).toFixed(2)} ms, oldest 10 pages ${medianOf(lastPages).toFixed(2)} ms (median); plans: ${big.plans.join(' / ')}`,
  };
}

const median = (xs: number[]) => medianOf(xs);

export async function persistence(o: Options): Promise<Row[]> {
  const rows: Row[] = [await paging(o)];
  for (const chunk of [64, 1]) {
    const n = (o.quick ? 20_000 : 100_000) / (chunk === 1 ? 4 : 1);
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < o.repeats; r++) {
      a.push(await appendAgentd(n, chunk));
      b.push(await appendRaw(n, chunk));
    }
    o.log(`append ${chunk}/turn: agentd ${a.map(Math.round)} raw ${b.map(Math.round)} /s`);
    rows.push({
      ...ratioRow({ group: '6. persistence', name: `events appended, ${chunk} per loop turn (${n.toLocaleString('en-US')}, WAL, synchronous=NORMAL)`, baselineName: 'better-sqlite3, same rows and settings, a transaction per loop turn' }, a, b, fmtRate),
      note: 'each delivered to a subscriber and persisted (counted)',
    });
  }

  rows.push(...await replay(o));
  return rows;
}

/**
 * Replay to a late subscriber: one `agentd serve --stdio` streams a long turn into the store and
 * stops; then, each repeat, a fresh server on the same data directory gets `session/subscribe`
 * with `since: 0` and the time to receive every stored event is measured (PipeRpc client), beside
 * the raw pipe senders moving as many messages of the delta frame's size to the same reader.
 */
async function replay(o: Options): Promise<Row[]> {
  const n = o.quick ? 20_000 : 100_000;
  const dir = dataDir();
  let sessionId: string;
  let frameBytes: number;
  {
    const s1 = await StdioServer.start(dir, [], { client: 'minimal' });
    const s = await s1.request('session/create', { provider: 'echo', model: 'echo-bench' });
    sessionId = s.id;
    const watch = new TurnWatch(s.id);
    s1.conn.onNotification('session/event', (e: Json) => watch.onEvent(e));
    await s1.request('session/subscribe', { sessionId });
    await within(Promise.all([s1.request('session/message', { sessionId, content: `${n} 16` }), watch.done]), 300_000, 'long turn');
    frameBytes = watch.frameBytes;
    await s1.stop();
  }
  const best = await pipeSender('best');
  const naive = await pipeSender('naive');
  const a: number[] = [];
  const b: number[] = [];
  const c: number[] = [];
  let total = 0;
  const problems: string[] = [];
  try {
    for (let r = 0; r < Math.min(o.repeats, 3); r++) {
      const late = await StdioServer.start(dir, [], { client: 'minimal' });
      let count = 0;
      let last = 0;
      let resolve!: () => void;
      const all = new Promise<void>((r2) => { resolve = r2; });
      late.conn.onNotification('session/event', (e: Json) => {
        if (e.seq !== last + 1) problems.push(`seq ${e.seq} after ${last}`);
        last = e.seq;
        if (++count === total) resolve();
      });
      const t0 = performance.now();
      const sub = await late.request('session/subscribe', { sessionId, since: 0 });
      total = sub.lastSeq;
      if (count === total) resolve();
      await within(all, 300_000, 'replay');
      a.push(total / ((performance.now() - t0) / 1000));
      await late.stop();
      if (count !== total) problems.push(`${count} of ${total} events`);
      b.push(await best.rate(total, frameBytes));
      c.push(await naive.rate(total, frameBytes));
    }
  } finally {
    await best.stop();
    await naive.stop();
    removeDir(dir);
  }
  o.log(`replay: agentd ${a.map(Math.round)} best ${b.map(Math.round)} naive ${c.map(Math.round)} /s`);
  const name = `replay of ${total.toLocaleString('en-US')} events (${frameBytes} B frames) to a late subscriber (stdio, session/subscribe since 0)`;
  const note = problems.length ? `${problems.length} events out of order or missing: ${problems.slice(0, 2).join('; ')}` : 'all events, in order';
  const bestRow = ratioRow({ group: '6. persistence', name, baselineName: best.label }, a, b, fmtRate);
  return [
    { ...bestRow, target: `≥ ${DELIVERY_TARGET}`, met: problems.length === 0 && bestRow.ratio >= DELIVERY_TARGET, note },
    { ...ratioRow({ group: '6. persistence', name: 'replay to a late subscriber, reference', baselineName: naive.label }, a, c, fmtRate), note: 'reference: the naive baseline (no target)' },
  ];
}
