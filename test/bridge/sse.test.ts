// SSE: event/id/data fields, Last-Event-ID and ?since= replay then live without gap or
// duplicate, heartbeats, unsubscribe on close, and a client that stops reading.
import t from 'tap';
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApp } from '../../bridge/app.js';
import type { Core } from '../../server/core.js';
import { createLogger } from '../../server/log.js';
import { SseStream } from '../helpers/driver.js';
import { openCore } from '../helpers/core.js';
import { spawnHttp, tempDir } from '../helpers/rpc-client.js';

const post = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json', ...headers } });
  return { status: res.status, body: await res.json() };
};
const WORDS = Array.from({ length: 20 }, (_, i) => `w${i}`).join(' ');

t.test('replay then live over a running server', async (t) => {
  const server = await spawnHttp();
  t.teardown(() => server.stop());
  const { url } = server;
  const s = (await post(`${url}/v1/session`, { name: 'sse', model: 'echo-slow' })).body;
  const all = await SseStream.open(`${url}/v1/events`);
  t.teardown(() => all.close());
  t.equal(all.status, 200);
  t.match(all.headers?.get('content-type'), /^text\/event-stream/);

  // Start a slow turn, follow it live, drop the connection part-way and resume with Last-Event-ID.
  const first = await SseStream.open(`${url}/v1/session/${s.id}/events`);
  const accepted = await post(`${url}/v1/session/${s.id}/message`, { content: WORDS }, { Prefer: 'respond-async' });
  t.equal(accepted.status, 202);
  await first.waitFor(() => first.events.filter((e) => e.type === 'message.delta').length >= 3, 10_000, 'three deltas');
  await first.close();
  const lastId = first.ids.at(-1)!;
  const second = await SseStream.open(`${url}/v1/session/${s.id}/events?since=0`, { 'Last-Event-ID': lastId });
  t.teardown(() => second.close());
  await second.waitFor(() => second.events.find((e) => e.type === 'turn.completed'), 10_000, 'turn.completed');
  t.equal(second.events[0].seq, Number(lastId) + 1, 'Last-Event-ID wins over ?since=');
  const seqs = [...first.events, ...second.events].map((e) => e.seq);
  t.same(seqs, seqs.map((_, i) => seqs[0] + i), 'no gap and no duplicate across the reconnect');
  t.same([...first.ids, ...second.ids], seqs.map(String), 'id: is the seq');
  t.same([...first.names, ...second.names], [...first.events, ...second.events].map((e) => e.type), 'event: is the type');
  const text = [...first.events, ...second.events].filter((e) => e.type === 'message.delta').map((e) => e.data.delta.text).join('');
  t.equal(text, `Echo: ${WORDS}`);
  t.ok(first.comments.includes('connected'), 'a comment opens the stream');

  // ?since=0 replays the whole session.
  const replay = await SseStream.open(`${url}/v1/session/${s.id}/events?since=0`);
  t.teardown(() => replay.close());
  await replay.waitFor(() => replay.events.find((e) => e.type === 'turn.completed'), 5000, 'replay');
  t.same(replay.events.map((e) => e.seq), replay.events.map((_, i) => i + 1), 'replay from seq 1');
  t.equal(replay.events[0].type, 'session.created');

  // The all-events stream uses event ids, and saw the same events.
  await all.waitFor(() => all.events.find((e) => e.type === 'turn.completed'), 5000, 'all: turn.completed');
  t.same(all.ids, all.events.map((e) => String(e.id)), 'id: is the event id on /v1/events');
  const resumed = await SseStream.open(`${url}/v1/events`, { 'Last-Event-ID': all.ids[2] });
  t.teardown(() => resumed.close());
  await resumed.waitFor(() => resumed.events.find((e) => e.type === 'turn.completed'), 5000, 'resumed all');
  t.same(resumed.events.map((e) => e.id), all.events.slice(3).map((e) => e.id).filter((id) => id <= resumed.events.at(-1).id), 'resume by event id');
});

async function inProcess(t: Tap.Test, config: object = {}, heartbeatMs = 15_000) {
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify(config));
  const core = await openCore({ dataDir, log: createLogger(process.env.SSE_LOG ?? 'silent') });
  const server: Server = createServer(createApp(core, { heartbeatMs }) as never);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await core.close();
  });
  return { core, url, server };
}
type Tap = typeof t;
declare namespace Tap { type Test = Parameters<Parameters<typeof t.test>[1]>[0] }

t.test('heartbeat comments and unsubscribe on close', async (t) => {
  const { core, url } = await inProcess(t, {}, 50);
  const s = (await post(`${url}/v1/session`, { name: 'hb' })).body;
  t.equal(core.events.listenerCount(s.id), 0);
  const stream = await SseStream.open(`${url}/v1/session/${s.id}/events`);
  const everything = await SseStream.open(`${url}/v1/events`);
  t.equal(core.events.listenerCount(s.id), 1, 'subscribed');
  t.equal(core.events.listenerCount(null), 1, 'subscribed to all');
  await stream.waitFor(() => stream.comments.filter((c) => c === 'heartbeat').length >= 2, 5000, 'two heartbeats');
  t.pass('heartbeats arrive');
  await stream.close();
  await everything.close();
  const deadline = Date.now() + 5000;
  while ((core.events.listenerCount(s.id) || core.events.listenerCount(null)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(core.events.listenerCount(s.id), 0, 'unsubscribed when the client went away');
  t.equal(core.events.listenerCount(null), 0, 'all-events unsubscribed too');
});

/** Appends `n` deltas to a session, `perTick` per event-loop turn. */
async function burst(core: Core, sessionId: string, n: number, perTick = 200) {
  const text = 'x'.repeat(200);
  for (let i = 0; i < n; i += perTick) {
    for (let j = i; j < Math.min(n, i + perTick); j++) {
      core.events.append(sessionId, 'message.delta', { messageId: 'msg_burst', turnId: 'turn_burst', index: 0, delta: { type: 'text_delta', text } });
    }
    await new Promise((r) => setImmediate(r));
  }
}

/** An SSE response we read from by hand (so we can stop reading). */
function rawSse(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => get(url, { headers: { Accept: 'text/event-stream' } }, resolve).on('error', reject));
}

t.test('a client that stops reading is disconnected; a reading one gets everything', async (t) => {
  const { core, url } = await inProcess(t, { limits: { sendBufferBytes: 256 * 1024 } });
  const s = (await post(`${url}/v1/session`, { name: 'bp' })).body;
  const stalled = await rawSse(`${url}/v1/session/${s.id}/events`);
  stalled.pause();
  t.teardown(() => stalled.destroy());
  const reader = await SseStream.open(`${url}/v1/session/${s.id}/events`);
  t.teardown(() => reader.close());
  const N = 30_000; // about 10 MB of events: more than the socket buffers and the 256 KiB limit
  await burst(core, s.id, N);
  // The server dropped the stalled stream (a paused client cannot notice until it reads again).
  const deadline = Date.now() + 20_000;
  while (core.events.listenerCount(s.id) > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(core.events.listenerCount(s.id), 1, 'the stalled client was unsubscribed; the reading one is still subscribed');
  await reader.waitFor(() => reader.events.length >= N, 60_000, 'all events at the reading client');
  const seqs = reader.events.map((e) => e.seq);
  t.same(seqs.slice(0, 3), [2, 3, 4]);
  t.ok(seqs.every((q, i) => i === 0 || q === seqs[i - 1] + 1), 'in order, no gap');
});

t.test('a paused client that resumes gets everything (the writer waits for drain)', async (t) => {
  const { core, url } = await inProcess(t);
  const s = (await post(`${url}/v1/session`, { name: 'drain' })).body;
  const res = await rawSse(`${url}/v1/session/${s.id}/events`);
  res.pause();
  const N = 15_000; // about 5 MB: the response buffer fills and write() returns false
  await burst(core, s.id, N);
  await new Promise((r) => setTimeout(r, 200));
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (d: string) => { text += d; });
  res.resume();
  const deadline = Date.now() + 30_000;
  const count = () => (text.match(/^event: message\.delta$/gm) ?? []).length;
  while (count() < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.equal(count(), N, 'every event arrived');
  const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  t.ok(ids.every((q, i) => i === 0 || q === ids[i - 1] + 1), 'in order, no gap');
  res.destroy();
});

t.test('a browser-style EventSource reconnects with Last-Event-ID and misses nothing', async (t) => {
  const { EventSource } = await import('eventsource');
  const { url, server } = await inProcess(t);
  const s = (await post(`${url}/v1/session`, { name: 'es', model: 'echo-slow' })).body;
  const es = new EventSource(`${url}/v1/session/${s.id}/events?since=0`);
  t.teardown(() => es.close());
  const got: Array<{ type: string; id: string; seq: number }> = [];
  let opens = 0;
  es.onopen = () => { opens++; };
  for (const type of ['session.created', 'message.created', 'turn.started', 'message.delta', 'message.completed', 'usage.updated', 'turn.completed']) {
    es.addEventListener(type, (ev) => got.push({ type, id: ev.lastEventId, seq: JSON.parse(ev.data).seq }));
  }
  const until = async (pred: () => boolean, what: string, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await until(() => opens === 1 && got.length >= 1, 'the first event');
  await post(`${url}/v1/session/${s.id}/message`, { content: WORDS }, { Prefer: 'respond-async' });
  await until(() => got.filter((e) => e.type === 'message.delta').length >= 3, 'three deltas');
  // Drop every connection (the server keeps listening): the EventSource reconnects by itself.
  server.closeAllConnections();
  await until(() => got.some((e) => e.type === 'turn.completed'), 'turn.completed after the reconnect');
  t.ok(opens >= 2, `reconnected (${opens} opens)`);
  const seqs = got.map((e) => e.seq);
  t.same(seqs, seqs.map((_, i) => i + 1), 'every event once, in order, across the reconnect');
  t.same(got.map((e) => e.id), seqs.map(String));
});
