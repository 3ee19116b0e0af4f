// The event log when its store fails or a listener throws: appends still resolve (undelivered,
// id 0) and settled() still resolves, the loop pauses between failures instead of spinning, a
// throwing listener costs no other event its delivery, and the log recovers once the store does.
import t from 'tap';
import { join } from 'node:path';
import { EventLog, type PublishedEvent } from '../../server/events/log.js';
import { createLogger } from '../../server/log.js';
import { SqliteStore } from '../../server/store/sqlite.js';
import { tempDir } from '../helpers/rpc-client.js';

const delta = (text: string) => ({ messageId: 'msg_x', turnId: 'turn_x', index: 0, delta: { type: 'text_delta' as const, text } });

t.test('a failing store: appends resolve undelivered, the loop pauses, then recovers', async (t) => {
  const store = new SqliteStore(join(tempDir(), 'agentd.db'));
  t.teardown(() => store.close());
  let failing = true;
  let writes = 0;
  const real = store.appendEvents.bind(store);
  store.appendEvents = async (events) => {
    writes++;
    if (failing) throw new Error('disk gone');
    return real(events);
  };
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
  t.ok(writes < 20, `no tight loop (${writes} store calls in ${Date.now() - started} ms)`);
  failing = false;
  const ok = await events.append('ses_x', 'message.delta', delta('d'));
  t.ok(ok.id > 0, 'once the store works again, events are stored and delivered');
  t.same(seen.map((e) => JSON.parse(e.json).data.delta.text), ['d']);
  t.equal((await store.eventsSince('ses_x', 0, 10)).length, 1, 'and only what was delivered is stored');
});

t.test('a throwing listener costs the other events and listeners nothing', async (t) => {
  const store = new SqliteStore(join(tempDir(), 'agentd.db'));
  t.teardown(() => store.close());
  const events = new EventLog(store, createLogger('silent'));
  const other: number[] = [];
  events.on('ses_y', (e) => { if (e.seq === 2) throw new Error('listener bug'); });
  events.on(null, (e) => other.push(e.seq));
  for (let i = 0; i < 4; i++) events.push('ses_y', 'message.delta', delta(String(i)));
  await events.settled();
  t.same(other, [1, 2, 3, 4], 'every event reached the all-events listener, in order');
  t.equal((await store.eventsSince('ses_y', 0, 10)).length, 4, 'and every one was stored');
});
