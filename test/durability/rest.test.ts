// The durability guarantees over REST + SSE: Idempotency-Key, stream.gap after Last-Event-ID, kill -9 recovery, graceful shutdown.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { SseStream } from '../helpers/driver.js';
import { spawnHttp, tempDir, type Json } from '../helpers/rpc-client.js';
import { reap, TEST_ENV, textOf, waitGone } from '../helpers/durability.js';

async function http(base: string, method: string, path: string, body?: Json, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
  });
  return { status: res.status, body: await res.json() as Json };
}

t.test('REST: Idempotency-Key', async (t) => {
  const server = await spawnHttp();
  t.teardown(() => server.stop());
  const u = server.url;
  const a = await http(u, 'POST', '/v1/session', { name: 'once' }, { 'Idempotency-Key': 'rest-1' });
  t.equal(a.status, 201);
  const b = await http(u, 'POST', '/v1/session', { name: 'once' }, { 'Idempotency-Key': 'rest-1' });
  t.equal(b.status, 201);
  t.same(b.body, a.body, 'the retry gets the first result');
  t.equal((await http(u, 'GET', '/v1/session')).body.sessions.length, 1, 'one session');
  const c = await http(u, 'POST', '/v1/session', { name: 'other' }, { 'Idempotency-Key': 'rest-1' });
  t.equal(c.status, 409);
  t.equal(c.body.error.code, -32012);
  const d = await http(u, 'POST', '/v1/session', { name: 'x', idempotencyKey: 'body-key' }, { 'Idempotency-Key': 'header-key' });
  t.equal(d.status, 400, 'header and body keys must agree');
  // The key works the same from the body, and a JSON-RPC-side record is shared.
  t.same((await http(u, 'POST', '/v1/session', { name: 'once', idempotencyKey: 'rest-1' })).body, a.body);

  const id = a.body.id;
  const m1 = await http(u, 'POST', `/v1/session/${id}/message`, { content: 'hi' }, { 'Idempotency-Key': 'rest-msg' });
  const m2 = await http(u, 'POST', `/v1/session/${id}/message`, { content: 'hi' }, { 'Idempotency-Key': 'rest-msg' });
  t.same(m2, m1);
  t.equal((await http(u, 'GET', `/v1/session/${id}`)).body.messages.length, 2, 'one turn');
  // A header on a method without idempotency is ignored, not an error.
  t.equal((await http(u, 'GET', '/v1/session', undefined, { 'Idempotency-Key': 'whatever' })).status, 200);
});

t.test('SSE: Last-Event-ID older than retention gets stream.gap first', async (t) => {
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ limits: { eventRetention: 100 } }));
  const server = await spawnHttp({ dataDir });
  t.teardown(() => server.stop());
  const u = server.url;
  const s = (await http(u, 'POST', '/v1/session', { name: 'long' })).body;
  await http(u, 'POST', `/v1/session/${s.id}/message`, { content: Array.from({ length: 150 }, (_, i) => `w${i}`).join(' ') });
  const lastSeq = (await http(u, 'GET', `/v1/session/${s.id}`)).body.session.lastSeq;

  const sse = await SseStream.open(`${u}/v1/session/${s.id}/events`, { 'Last-Event-ID': '0' });
  t.teardown(() => sse.close());
  await sse.waitFor(() => sse.events.at(-1)?.seq === lastSeq, 5000, 'replay');
  t.equal(sse.names[0], 'stream.gap');
  t.equal(sse.ids[0], '0', 'id 0: not a stored position');
  t.same(sse.events[0].data, { since: 0, oldestSeq: sse.events[1].seq });
  t.ok(sse.events[1].seq > 1);

  const fresh = await SseStream.open(`${u}/v1/session/${s.id}/events`, { 'Last-Event-ID': String(lastSeq - 2) });
  t.teardown(() => fresh.close());
  await fresh.waitFor(() => fresh.events.length >= 2, 5000, 'tail');
  t.notOk(fresh.names.includes('stream.gap'), 'no gap inside the retained window');

  const all = await SseStream.open(`${u}/v1/events?since=0`);
  t.teardown(() => all.close());
  await all.waitFor(() => all.events.length > 1, 5000, 'all events');
  t.equal(all.names[0], 'stream.gap');
});

t.test('REST: kill -9 mid turn, restart, the session goes on', async (t) => {
  const dataDir = tempDir();
  const first = await spawnHttp({ dataDir, env: TEST_ENV });
  t.teardown(() => first.stop('SIGKILL'));
  const s = (await http(first.url, 'POST', '/v1/session', { name: 'crash', model: 'echo-slow' })).body;
  const sse = await SseStream.open(`${first.url}/v1/session/${s.id}/events`, { 'Last-Event-ID': '0' });
  const accepted = await http(first.url, 'POST', `/v1/session/${s.id}/message`, { content: 'a b c d e f g h i j k l m n o p' }, { Prefer: 'respond-async' });
  t.equal(accepted.status, 202);
  await sse.waitFor(() => sse.events.filter((e) => e.type === 'message.delta').length >= 3, 5000, 'deltas');
  await first.stop('SIGKILL');
  await sse.close();
  const seenText = sse.events.filter((e) => e.type === 'message.delta').map((e) => e.data.delta.text).join('');

  const second = await spawnHttp({ dataDir, env: TEST_ENV });
  t.teardown(() => second.stop());
  const got = (await http(second.url, 'GET', `/v1/session/${s.id}`)).body;
  t.equal(got.session.status, 'idle');
  t.equal(got.messages[1].status, 'incomplete');
  t.ok(textOf(got.messages[1]).startsWith(seenText), 'streamed text kept');
  const replay = await SseStream.open(`${second.url}/v1/session/${s.id}/events`, { 'Last-Event-ID': String(sse.events.at(-1).seq) });
  t.teardown(() => replay.close());
  const ev = await replay.waitFor(() => replay.events.find((e) => e.type === 'turn.interrupted'), 5000, 'turn.interrupted');
  t.same(ev.data, { turnId: accepted.body.turnId, messageId: got.messages[1].id, reason: 'server restart' });
  const reply = await http(second.url, 'POST', `/v1/session/${s.id}/message`, { content: 'again' });
  t.equal(reply.status, 200);
  t.equal(textOf(reply.body), 'Echo: again');
});

t.test('REST: SIGTERM ends SSE streams after turn.interrupted and kills tools', async (t) => {
  const server = await spawnHttp({ env: TEST_ENV });
  t.teardown(() => server.stop('SIGKILL'));
  const s = (await http(server.url, 'POST', '/v1/session', { name: 'tool' })).body;
  const sse = await SseStream.open(`${server.url}/v1/session/${s.id}/events`);
  t.teardown(() => sse.close());
  await http(server.url, 'POST', `/v1/session/${s.id}/message`, { content: '/tool test_sleep {"seconds":30}' }, { Prefer: 'respond-async' });
  const out = await sse.waitFor(() => sse.events.find((e) => e.type === 'tool.output' && /pids \d+ \d+/.test(e.data.text)), 5000, 'tool pids');
  const pids = /pids (\d+) (\d+)/.exec(out.data.text)!.slice(1).map(Number);
  t.teardown(() => reap(pids));
  t.equal(await server.stop('SIGTERM'), 0, 'exit 0');
  await sse.waitFor(() => sse.ended, 5000, 'stream end');
  t.equal(sse.events.find((e) => e.type === 'turn.interrupted')?.data.reason, 'shutdown', 'turn.interrupted reached the SSE client');
  t.ok(await waitGone(pids, 5000), 'tool processes killed');
});
