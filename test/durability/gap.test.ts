// Events are retained per session up to limits.eventRetention; resuming from a pruned position yields an explicit stream.gap, never a silent hole.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { tempDir, type Json } from '../helpers/rpc-client.js';
import { open, RPC_TRANSPORTS } from '../helpers/transports.js';

const RETENTION = 100;
const LONG = Array.from({ length: 150 }, (_, i) => `w${i}`).join(' ');

for (const transport of RPC_TRANSPORTS) {
  t.test(`stream.gap over ${transport}`, async (t) => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ limits: { eventRetention: RETENTION } }));
    const { client, another, close } = await open(transport, { dataDir });
    t.teardown(close);
    await client.initialize();
    const s = await client.request('session/create', { name: 'long' });
    const small = await client.request('session/create', { name: 'short' });
    await client.request('session/message', { sessionId: s.id, content: LONG });
    await client.request('session/message', { sessionId: small.id, content: 'hi' });
    const { session } = await client.request('session/get', { sessionId: s.id });
    t.ok(session.lastSeq > RETENTION + 50, `more events than retained (${session.lastSeq})`);

    // since 0 on a pruned session: first a stream.gap, then the retained events, contiguous, then live ones.
    const c = await another();
    await c.initialize();
    await c.request('session/subscribe', { sessionId: s.id, since: 0 });
    await c.waitFor(() => c.events(s.id).at(-1)?.seq === session.lastSeq, 5000, 'replay');
    const [gap, ...rest] = c.events(s.id);
    t.equal(gap.type, 'stream.gap');
    t.equal(gap.seq, 0, 'the gap event is not a stored event');
    t.equal(gap.sessionId, s.id);
    t.same(gap.data, { since: 0, oldestSeq: rest[0].seq });
    t.ok(rest[0].seq > 1, 'old events were pruned');
    t.ok(rest.length >= RETENTION && rest.length <= RETENTION + 1, `about eventRetention events kept (${rest.length})`);
    t.same(rest.map((e: Json) => e.seq), rest.map((_: Json, i: number) => rest[0].seq + i), 'retained events are contiguous');
    t.notOk(rest.some((e: Json) => e.type === 'stream.gap'), 'one gap only');
    await c.request('session/message', { sessionId: s.id, content: 'more' });
    await c.waitFor(() => c.events(s.id).filter((e) => e.type === 'turn.completed').length >= 2, 5000, 'live after gap');

    // A since inside the retained window: no gap. A session under the bound: no gap.
    const d = await another();
    await d.initialize();
    await d.request('session/subscribe', { sessionId: s.id, since: session.lastSeq - 3 });
    await d.request('session/subscribe', { sessionId: small.id, since: 0 });
    await d.waitFor(() => d.events(small.id).some((e) => e.type === 'turn.completed') && d.events(s.id).length >= 3, 5000, 'replays');
    t.notOk(d.events().some((e) => e.type === 'stream.gap'), 'no gap when nothing was pruned after since');
    t.equal(d.events(small.id)[0].seq, 1);

    // The all-events stream: a gap when pruned events lie after since.
    const e = await another();
    await e.initialize();
    await e.request('session/subscribe', { since: 0 });
    await e.waitFor(() => e.events().filter((x) => x.type === 'turn.completed').length >= 3, 5000, 'all events');
    const first = e.events()[0];
    t.equal(first.type, 'stream.gap');
    t.equal(first.sessionId, null);
    t.equal(first.data.since, 0);
  });
}
