// The event log when its store fails or a listener throws: appends still resolve (undelivered,
// id 0) and settled() still resolves, the loop pauses between failures instead of spinning, a
// throwing listener costs no other event its delivery, and the log recovers once the store does.
// On SQLite, and in the PostgreSQL pass on a PgStore (its shared write path).
import t from 'tap';
import { join } from 'node:path';
import { EventLog, type PublishedEvent } from '../../server/events/log.js';
import { createLogger } from '../../server/log.js';
import { SqliteStore } from '../../server/store/sqlite.js';
import type { Store } from '../../server/store/store.js';
import { databaseFor } from '../helpers/pg-database.mjs';
import { tempDir } from '../helpers/rpc-client.js';

/**
 * The store under test: SQLite, or in the PostgreSQL pass (AGENTD_TEST_PG) a PgStore on a database
 * of its own. `writes` counts the event writes; while `failing`, each one throws.
 */
async function openTestStore(t: Tap.Test) {
  const dir = tempDir();
  const cluster = process.env.AGENTD_TEST_PG;
  let store: Store;
  if (cluster) {
    const { PgStore } = await import('../../server/store/pg.js');
    store = await PgStore.open({ url: await databaseFor(cluster, dir), leaseMs: 15_000 });
  } else {
    store = new SqliteStore(join(dir, 'agentd.db'));
  }
  t.teardown(() => store.close());
  const state = { store, failing: false, writes: 0 };
  // A shared store writes through its cluster's append; the local one through appendEvents.
  const target = (store.cluster ?? store) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const method = store.cluster ? 'append' : 'appendEvents';
  const real = target[method].bind(target);
  target[method] = async (...args: unknown[]) => {
    state.writes++;
    if (state.failing) throw new Error('disk gone');
    return real(...args);
  };
  return state;
}

const delta = (text: string) => ({ messageId: 'msg_x', turnId: 'turn_x', index: 0, delta: { type: 'text_delta' as const, text } });

t.test('a failing store: appends resolve undelivered, the loop pauses, then recovers', async (t) => {
  const st = await openTestStore(t);
  const { store } = st;
  st.failing = true;
  const events = new EventLog(store, createLogger('silent'));
  const seen: PublishedEvent[] = [];
  events.on('ses_x', (e) => seen.push(e));
  const first = await events.append('ses_x', 'message.delta', delta('a'));
  t.equal(first.id, 0, 'an event its store refused resolves undelivered (id 0)');
  t.equal(seen.length, 0, 'and is not delivered: a client never sees what was not stored');
  // While it keeps failing, more appends: each batch fails once (a retry one by one included), with a pause between.
  const started = Date.now();
  const more = [events.append('ses_x', 'message.delta', delta('b')), events.append('ses_x', 'message.delta', delta('c'))];
  await Promise.all(more);
  await events.settled();
  t.ok(st.writes < 20, `no tight loop (${st.writes} store calls in ${Date.now() - started} ms)`);
  st.failing = false;
  const ok = await events.append('ses_x', 'message.delta', delta('d'));
  t.ok(ok.id > 0, 'once the store works again, events are stored and delivered');
  t.same(seen.map((e) => JSON.parse(e.json).data.delta.text), ['d']);
  t.equal((await store.eventsSince('ses_x', 0, 10)).length, 1, 'and only what was delivered is stored');
});

t.test('a throwing listener costs the other events and listeners nothing', async (t) => {
  const { store } = await openTestStore(t);
  const events = new EventLog(store, createLogger('silent'));
  const other: number[] = [];
  events.on('ses_y', (e) => { if (e.seq === 2) throw new Error('listener bug'); });
  events.on(null, (e) => other.push(e.seq));
  for (let i = 0; i < 4; i++) events.push('ses_y', 'message.delta', delta(String(i)));
  await events.settled();
  t.same(other, [1, 2, 3, 4], 'every event reached the all-events listener, in order');
  t.equal((await store.eventsSince('ses_y', 0, 10)).length, 4, 'and every one was stored');
});
