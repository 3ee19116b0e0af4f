// Replay-then-live on the asynchronous store: a subscriber that names `since` gets every stored
// event after it, then the live ones, with no gap and no duplicate, while events keep being
// appended during its replay (slow pages: the sink waits between them). Also past the live buffer
// (more live events during the replay than a subscriber buffers: the replay reads on from the
// store instead). On SQLite and on PostgreSQL (two event logs on one database: the appends come
// from the other node).
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { EventLog, type PublishedEvent } from '../../server/events/log.js';
import { follow } from '../../server/events/follow.js';
import { createLogger } from '../../server/log.js';
import { SqliteStore } from '../../server/store/sqlite.js';
import { PgStore } from '../../server/store/pg.js';
import type { Store } from '../../server/store/store.js';
import { tempDir } from '../helpers/rpc-client.js';
import { startPostgres } from '../helpers/postgres.js';

const log = createLogger('silent');
const SID = 'ses_replay';
const delta = (i: number) => ({ messageId: 'msg_r', turnId: 'turn_r', index: 0, delta: { type: 'text_delta' as const, text: `t${i}` } });

/** A sink that is slow to drain: every page of the replay waits `pauseMs`. */
function slowSink(pauseMs: number) {
  const got: PublishedEvent[] = [];
  return {
    got,
    deliver: (e: PublishedEvent) => { got.push(e); },
    writable: () => new Promise<void>((r) => setTimeout(r, pauseMs)),
    closed: false,
  };
}

/** Appends `n` events, `perTick` per event-loop turn, from `writer`. */
async function appendSome(writer: EventLog, from: number, n: number, perTick: number) {
  let last: Promise<unknown> = Promise.resolve();
  for (let i = 0; i < n; i++) {
    last = writer.append(SID, 'message.delta', delta(from + i));
    if (i % perTick === perTick - 1) await new Promise((r) => setImmediate(r));
  }
  await last;
}

async function waitFor(cond: () => boolean, ms = 20_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `reader`: the log the subscriber follows; `writer`: where appends come from (the same log, or another node's). */
async function scenario(t: Test, reader: EventLog, writer: EventLog, o: { stored: number; during: number; perTick: number; pauseMs: number }) {
  await appendSome(writer, 0, o.stored, 500);
  const sink = slowSink(o.pauseMs);
  const sub = follow(reader, SID, 0, sink);
  // Appends while the replay runs (it waits between its pages of 1000).
  const appending = appendSome(writer, o.stored, o.during, o.perTick);
  await appending;
  const total = o.stored + o.during;
  await sub.ready;
  await waitFor(() => sink.got.length >= total);
  // A little longer: a duplicate would arrive now.
  await new Promise((r) => setTimeout(r, 100));
  sub.stop();
  const seqs = sink.got.map((e) => e.seq);
  t.equal(seqs.length, total, `${total} events delivered`);
  t.ok(seqs.every((s, i) => s === i + 1), 'seqs 1..N in order: no gap, no duplicate');
  const texts = sink.got.map((e) => (JSON.parse(e.json) as { data: { delta: { text: string } } }).data.delta.text);
  t.ok(texts.every((x, i) => x === `t${i}`), 'each event is the one appended at its position');
}

t.test('SQLite: appends during a slow replay', async (t) => {
  const store = new SqliteStore(join(tempDir(), 'agentd.db'));
  t.teardown(() => store.close());
  const events = new EventLog(store, log);
  await scenario(t, events, events, { stored: 5000, during: 3000, perTick: 20, pauseMs: 30 });
});

t.test('SQLite: more live events during the replay than a subscriber buffers', async (t) => {
  const store = new SqliteStore(join(tempDir(), 'agentd.db'));
  t.teardown(() => store.close());
  const events = new EventLog(store, log);
  await scenario(t, events, events, { stored: 3000, during: 25_000, perTick: 2000, pauseMs: 200 });
});

t.test('live only: starts after the newest delivered event, misses none appended after', async (t) => {
  const store = new SqliteStore(join(tempDir(), 'agentd.db'));
  t.teardown(() => store.close());
  const events = new EventLog(store, log);
  await appendSome(events, 0, 100, 10);
  const sink = slowSink(0);
  const sub = follow(events, SID, undefined, sink);
  const appending = appendSome(events, 100, 500, 7);
  const start = await sub.started;
  await appending;
  await waitFor(() => sink.got.length > 0 && sink.got[sink.got.length - 1].seq === 600);
  sub.stop();
  t.ok(start >= 100, `the live stream starts after seq ${start}`);
  t.same(sink.got.map((e) => e.seq), Array.from({ length: 600 - start }, (_, i) => start + 1 + i), 'every later event, once, in order');
});

const pg = await startPostgres();
t.test('PostgreSQL, two nodes: the other node appends during a slow replay', async (t) => {
  if ('skip' in pg) return t.skip(`skipped: ${pg.skip}`);
  t.teardown(() => pg.stop());
  const url = await pg.newDatabase();
  const stores: Store[] = [];
  t.teardown(async () => { for (const s of stores) await s.close(); });
  const open = async () => {
    const s = await PgStore.open({ url, leaseMs: 15_000 });
    stores.push(s);
    const e = new EventLog(s, log);
    await e.start();
    return e;
  };
  const a = await open();
  const b = await open();
  await scenario(t, a, b, { stored: 3000, during: 1500, perTick: 25, pauseMs: 30 });
});
