// kill -9 in the middle of a turn: after a restart the turn is interrupted, its partial output kept, nothing else lost, and the session goes on.
import t, { type Test } from 'tap';
import { tempDir, type Json } from '../helpers/rpc-client.js';
import { RPC_TRANSPORTS } from '../helpers/transports.js';
import { reap, start, textOf, toolPids } from '../helpers/durability.js';

const WORDS = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');

/** Events seen before the crash must come back unchanged, in the same places. */
function samePrefix(t: Test, before: Json[], after: Json[]) {
  const strip = (e: Json) => ({ id: e.id, seq: e.seq, type: e.type, data: e.data });
  t.same(after.slice(0, before.length).map(strip), before.map(strip), 'every event seen before the crash is retained unchanged');
}

for (const transport of RPC_TRANSPORTS) {
  t.test(`kill -9 mid streamed turn over ${transport}`, async (t) => {
    const dataDir = tempDir();
    const first = await start(transport, dataDir);
    t.teardown(() => first.close());
    await first.client.initialize();
    const s = await first.client.request('session/create', { name: 'crash', model: 'echo-slow' });
    await first.client.request('session/subscribe', { sessionId: s.id, since: 0 });
    const accepted = await first.client.request('session/message', { sessionId: s.id, content: WORDS, async: true });
    await first.client.waitFor(() => first.client.events(s.id).filter((e) => e.type === 'message.delta').length >= 5, 10_000, 'deltas');
    await first.kill9();
    const seen = first.client.events(s.id);
    const seenText = seen.filter((e) => e.type === 'message.delta').map((e) => e.data.delta.text).join('');

    const second = await start(transport, dataDir);
    t.teardown(() => second.close());
    const c = second.client;
    await c.initialize();
    const got = await c.request('session/get', { sessionId: s.id });
    t.equal(got.session.status, 'idle', 'the session is no longer running');
    t.equal(got.session.activeTurnId ?? null, null);
    const [user, assistant] = got.messages;
    t.equal(user.role, 'user');
    t.equal(textOf(user), WORDS, 'the user message is intact');
    t.equal(assistant.role, 'assistant');
    t.equal(assistant.status, 'incomplete', 'partial output is marked incomplete');
    t.ok(textOf(assistant).startsWith(seenText), 'every streamed delta the client saw is in the kept text');
    t.ok(textOf(assistant).length > 0 && textOf(assistant).length < `Echo: ${WORDS}`.length, 'partial text kept');
    t.match(assistant.error, { message: /server restart/ });

    await c.request('session/subscribe', { sessionId: s.id, since: 0 });
    const interrupted = await c.waitForEvent('turn.interrupted', (e) => e.sessionId === s.id);
    t.same(interrupted.data, { turnId: accepted.turnId, messageId: assistant.id, reason: 'server restart' });
    const events = c.events(s.id);
    samePrefix(t, seen, events);
    t.same(events.map((e) => e.seq), events.map((_, i) => i + 1), 'seqs contiguous across the crash');
    const completed = events.find((e) => e.type === 'message.completed');
    t.equal(completed.data.message.status, 'incomplete');
    t.ok(completed.seq < interrupted.seq, 'message.completed (incomplete) precedes turn.interrupted');

    // The session accepts a new message at once, and the conversation continues.
    const reply = await c.request('session/message', { sessionId: s.id, content: 'after' });
    t.equal(textOf(reply), 'Echo: after');
    const again = await c.request('session/get', { sessionId: s.id });
    t.equal(again.messages.length, 4);
    t.equal(again.session.status, 'idle');
  });

  t.test(`kill -9 mid running tool over ${transport}`, async (t) => {
    const dataDir = tempDir();
    const first = await start(transport, dataDir);
    t.teardown(() => first.close());
    await first.client.initialize();
    const s = await first.client.request('session/create', { name: 'crash-tool' });
    await first.client.request('session/subscribe', { sessionId: s.id, since: 0 });
    const accepted = await first.client.request('session/message', { sessionId: s.id, content: '/tool test_sleep {"seconds":30}', async: true });
    const pids = await toolPids(first.client, s.id);
    t.teardown(() => reap(pids));
    await first.kill9();
    const seen = first.client.events(s.id);
    t.ok(seen.some((e) => e.type === 'tool.started'), 'the tool was running');

    const second = await start(transport, dataDir);
    t.teardown(() => second.close());
    const c = second.client;
    await c.initialize();
    const got = await c.request('session/get', { sessionId: s.id });
    t.equal(got.session.status, 'idle');
    t.same(got.messages.map((m: Json) => [m.role, m.status]), [['user', 'complete'], ['assistant', 'complete'], ['user', 'complete']]);
    const call = got.messages[1].content[0];
    t.equal(call.type, 'tool_use');
    t.same(call.input, { seconds: 30 }, 'the tool call is kept');
    const result = got.messages[2].content[0];
    t.match(result, { type: 'tool_result', toolUseId: call.id, isError: true });
    t.match(textOf(result), /interrupted: server restart/);

    await c.request('session/subscribe', { sessionId: s.id, since: 0 });
    const interrupted = await c.waitForEvent('turn.interrupted', (e) => e.sessionId === s.id);
    t.same(interrupted.data, { turnId: accepted.turnId, messageId: got.messages[1].id, reason: 'server restart' });
    const events = c.events(s.id);
    samePrefix(t, seen, events);
    const failed = events.find((e) => e.type === 'tool.failed');
    t.equal(failed?.data.callId, call.id, 'the running tool ends as tool.failed');

    const reply = await c.request('session/message', { sessionId: s.id, content: 'still here' });
    t.equal(textOf(reply), 'Echo: still here');
  });
}

t.test('a live process keeps its running turn; a dead owner is recovered when a message arrives', async (t) => {
  const dataDir = tempDir();
  const a = await start('stdio', dataDir);
  const b = await start('stdio', dataDir);
  t.teardown(async () => { await a.close(); await b.close(); });
  await Promise.all([a.client.initialize(), b.client.initialize()]);
  const s = await a.client.request('session/create', { name: 'shared', model: 'echo-slow' });
  await a.client.request('session/subscribe', { sessionId: s.id });
  await a.client.request('session/message', { sessionId: s.id, content: WORDS, async: true });
  await a.client.waitForEvent('message.delta');
  // A third process starting on the same data dir must not touch a live process's turn.
  const c = await start('stdio', dataDir);
  t.teardown(() => c.close());
  await c.client.initialize();
  const busy = await c.client.call('session/message', { sessionId: s.id, content: 'x' });
  t.equal(busy.error?.code, -32011, 'still busy: its owner is alive');
  // Now the owner dies; b (already running, so no startup recovery) recovers on the next message.
  await a.kill9();
  const reply = await b.client.request('session/message', { sessionId: s.id, content: 'taken over' });
  t.equal(textOf(reply), 'Echo: taken over');
  const got = await b.client.request('session/get', { sessionId: s.id });
  t.same(got.messages.map((m: Json) => m.status), ['complete', 'incomplete', 'complete', 'complete']);
});

t.test('a process sharing the data dir recovers a dead one\'s turn in its periodic sweep', async (t) => {
  const dataDir = tempDir();
  const a = await start('stdio', dataDir);
  const b = await start('websocket', dataDir, { env: { AGENTD_RECOVERY_SWEEP_MS: '200' } });
  t.teardown(async () => { await a.close(); await b.close(); });
  await Promise.all([a.client.initialize(), b.client.initialize()]);
  const s = await a.client.request('session/create', { name: 'swept', model: 'echo-slow' });
  await a.client.request('session/subscribe', { sessionId: s.id });
  await a.client.request('session/message', { sessionId: s.id, content: WORDS, async: true });
  await a.client.waitForEvent('message.delta');
  await b.client.request('session/subscribe', { sessionId: s.id });
  await a.kill9();
  const ev = await b.client.waitForEvent('turn.interrupted', (e) => e.sessionId === s.id, 5000);
  t.equal(ev.data.reason, 'server restart');
  t.equal((await b.client.request('session/get', { sessionId: s.id })).session.status, 'idle', 'idle without anyone sending a message');
});
