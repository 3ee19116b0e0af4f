// Sessions and events survive a restart; a resubscriber with `since` gets exactly what it missed.
import t from 'tap';
import { open, RPC_TRANSPORTS } from '../helpers/transports.js';
import { spawnStdio, tempDir } from '../helpers/rpc-client.js';

for (const transport of RPC_TRANSPORTS) {
  t.test(`resubscribe with since over ${transport}`, async (t) => {
    const { client, another, close } = await open(transport);
    t.teardown(close);
    await client.initialize();
    const s = await client.request('session/create', { name: 'replay' });
    const sub = await client.request('session/subscribe', { sessionId: s.id, since: 0 });
    t.equal(sub.lastSeq, 1);
    await client.request('session/message', { sessionId: s.id, content: 'one two' });
    await client.waitForEvent('turn.completed');
    const seen = client.events(s.id);
    t.equal(seen[0].type, 'session.created', 'since 0 replays from the start');
    const lastSeen = seen.at(-1).seq;

    // Disconnect (unsubscribe), more happens, then resubscribe from the last seen seq.
    t.same(await client.request('session/unsubscribe', { sessionId: s.id }), { unsubscribed: true });
    const other = await another();
    await other.initialize();
    await other.request('session/message', { sessionId: s.id, content: 'three four five' });
    const before = client.events(s.id).length;
    t.equal(before, seen.length, 'no events after unsubscribe');

    await client.request('session/subscribe', { sessionId: s.id, since: lastSeen });
    await client.waitFor(() => client.events(s.id).filter((e) => e.type === 'turn.completed').length === 2, 5000, 'replayed turn');
    // A live turn right after the replay: no gap, no duplicate.
    await client.request('session/message', { sessionId: s.id, content: 'six' });
    await client.waitFor(() => client.events(s.id).filter((e) => e.type === 'turn.completed').length === 3, 5000, 'live turn');
    const all = client.events(s.id).map((e) => e.seq);
    t.same(all, all.map((_, i) => i + 1), 'every seq exactly once, in order');
    const got = await client.request('session/get', { sessionId: s.id });
    t.equal(got.session.lastSeq, all.at(-1));

    // Subscribing to everything (no sessionId) with since replays by global id.
    const everything = await another();
    await everything.initialize();
    await everything.request('session/subscribe', { since: 0 });
    await everything.waitFor(() => everything.events().filter((e) => e.type === 'turn.completed').length === 3, 5000, 'all events');
    const ids = everything.events().map((e) => e.id);
    t.same(ids, [...ids].sort((x, y) => x - y), 'global stream in id order');
    t.equal(new Set(ids).size, ids.length, 'no duplicate ids');
  });
}

t.test('sessions, messages and events survive a restart', async (t) => {
  const dataDir = tempDir();
  const first = spawnStdio({ dataDir });
  await first.initialize();
  const s = await first.request('session/create', { name: 'durable' });
  await first.request('session/message', { sessionId: s.id, content: 'remember me' });
  const before = await first.request('session/get', { sessionId: s.id });
  await first.close();
  t.equal(await first.exited, 0, 'clean exit when stdin closes');

  const second = spawnStdio({ dataDir });
  t.teardown(() => second.close());
  await second.initialize();
  const after = await second.request('session/get', { sessionId: s.id });
  t.same(after.messages, before.messages, 'messages intact');
  t.equal(after.session.name, 'durable');
  t.equal(after.session.status, 'idle');
  t.equal(after.session.lastSeq, before.session.lastSeq);
  await second.request('session/subscribe', { sessionId: s.id, since: 0 });
  await second.waitFor(() => second.events(s.id).length === before.session.lastSeq, 5000, 'replay after restart');
  // New events continue the sequence.
  await second.request('session/message', { sessionId: s.id, content: 'again' });
  await second.waitForEvent('turn.completed', (e) => e.seq > before.session.lastSeq);
  const seqs = second.events(s.id).map((e) => e.seq);
  t.same(seqs, seqs.map((_, i) => i + 1));
});

t.test('exit after shutdown exits 0, exit without shutdown exits 1', async (t) => {
  const a = spawnStdio();
  await a.initialize();
  await a.request('shutdown');
  a.notify('exit');
  t.equal(await a.exited, 0);
  const b = spawnStdio();
  await b.initialize();
  b.notify('exit');
  t.equal(await b.exited, 1);
});

t.test('two processes on one data directory', async (t) => {
  const dataDir = tempDir();
  const a = spawnStdio({ dataDir });
  const b = spawnStdio({ dataDir });
  t.teardown(async () => { await a.close(); await b.close(); });
  await Promise.all([a.initialize(), b.initialize()]);
  const work = async (c: typeof a, name: string) => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const s = await c.request('session/create', { name: `${name}${i}` });
      await c.request('session/message', { sessionId: s.id, content: `hi ${i}` });
      ids.push(s.id);
    }
    return ids;
  };
  const [ia, ib] = await Promise.all([work(a, 'a'), work(b, 'b')]);
  const listA = await a.request('session/list', {});
  t.equal(listA.sessions.length, 20, 'each process sees all sessions');
  for (const id of [...ia, ...ib]) {
    const got = await b.request('session/get', { sessionId: id });
    t.equal(got.messages.length, 2);
  }
  // A session busy in one process is busy for the other.
  const s = await a.request('session/create', { name: 'shared', model: 'echo-slow' });
  const slow = a.request('session/message', { sessionId: s.id, content: 'a b c d e f g h' });
  await new Promise((r) => setTimeout(r, 100));
  const busy = await b.call('session/message', { sessionId: s.id, content: 'x' });
  t.equal(busy.error?.code, -32011, 'busy across processes');
  await slow;
});
