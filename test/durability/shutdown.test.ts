// Graceful shutdown: signals and shutdown/exit stop new work, end running turns as interrupted, kill tool processes, keep the store intact and exit 0 in bounded time.
import t from 'tap';
import { tempDir, WsClient, type Json } from '../helpers/rpc-client.js';
import { RPC_TRANSPORTS } from '../helpers/transports.js';
import { reap, start, textOf, toolPids, waitGone } from '../helpers/durability.js';

const WORDS = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');

for (const transport of RPC_TRANSPORTS) {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    t.test(`${sig} with a streaming turn and a running tool over ${transport}`, async (t) => {
      const dataDir = tempDir();
      const srv = await start(transport, dataDir);
      t.teardown(() => srv.close());
      const c = srv.client;
      await c.initialize();
      const a = await c.request('session/create', { name: 'streaming', model: 'echo-slow' });
      const b = await c.request('session/create', { name: 'tool' });
      await c.request('session/subscribe', {});
      await c.request('session/message', { sessionId: a.id, content: WORDS, async: true });
      await c.request('session/message', { sessionId: b.id, content: '/tool test_sleep {"seconds":30}', async: true });
      const pids = await toolPids(c, b.id);
      t.teardown(() => reap(pids));
      await c.waitFor(() => c.events(a.id).filter((e) => e.type === 'message.delta').length >= 3, 5000, 'deltas');

      const closed = transport === 'websocket' ? new Promise<number>((r) => (c as WsClient).ws.once('close', (code) => r(code))) : undefined;
      t.equal(await srv.signal(sig), 0, 'exit code 0');
      if (closed) t.equal(await closed, 1001, 'websocket closed as going away, not cut off');
      for (const s of [a, b]) {
        const ev = c.events(s.id).find((e) => e.type === 'turn.interrupted');
        t.equal(ev?.data.reason, 'shutdown', `${s.name}: turn.interrupted reached the client before it closed`);
      }
      t.ok(await waitGone(pids, 5000), 'tool process group killed');

      // The store is complete and consistent: nothing left running, nothing to recover.
      const next = await start(transport, dataDir);
      t.teardown(() => next.close());
      await next.client.initialize();
      const got = await next.client.request('session/get', { sessionId: a.id });
      t.equal(got.session.status, 'idle');
      const partial = got.messages[1];
      t.equal(partial.status, 'incomplete');
      t.ok(textOf(partial).startsWith('Echo: w0'), 'partial text kept');
      // The tool call got an error result, so the history stays valid for the next turn.
      const tool = await next.client.request('session/get', { sessionId: b.id });
      t.same(tool.messages.map((m: Json) => [m.role, m.status, m.content[0].type]), [['user', 'complete', 'text'], ['assistant', 'complete', 'tool_use'], ['user', 'complete', 'tool_result']]);
      t.match(tool.messages[2].content[0], { isError: true, toolUseId: tool.messages[1].content[0].id });
      t.match(textOf(tool.messages[2].content[0]), /interrupted: shutdown/);
      await next.client.request('session/subscribe', { since: 0 });
      await next.client.waitFor(() => next.client.events(b.id).some((e) => e.type === 'turn.interrupted'), 5000, 'replay');
      t.notOk(next.client.events().some((e: Json) => e.data?.reason === 'server restart'), 'no crash recovery was needed');
      t.equal((await next.client.request('session/message', { sessionId: b.id, content: 'on' })).content[0].text, 'Echo: on');
    });
  }
}

t.test('stdio: shutdown interrupts running turns and refuses new work; exit ends with 0', async (t) => {
  const srv = await start('stdio', tempDir());
  t.teardown(() => srv.close());
  const c = srv.client;
  await c.initialize();
  const s = await c.request('session/create', { name: 's', model: 'echo-slow' });
  await c.request('session/subscribe', { sessionId: s.id });
  const pending = c.call('session/message', { sessionId: s.id, content: WORDS });
  await c.waitForEvent('message.delta');
  t.same(await c.request('shutdown'), {});
  t.equal(c.events(s.id).find((e) => e.type === 'turn.interrupted')?.data.reason, 'shutdown', 'the turn was interrupted before shutdown answered');
  const answer = await pending;
  t.equal(answer.error?.code, -32800, 'the waiting session/message ends with RequestCancelled');
  t.match(answer.error?.message, /interrupted: shutdown/);
  const refused = await c.call('session/create', { name: 'late' });
  t.equal(refused.error?.code, -32019, 'ShuttingDown');
  c.notify('exit');
  t.equal(await (c as unknown as { exited: Promise<number> }).exited, 0);
});

t.test('websocket: during shutdown new work is refused; a tool that ignores cancel is killed; exit is bounded', async (t) => {
  const dataDir = tempDir();
  const srv = await start('websocket', dataDir, { env: { AGENTD_SHUTDOWN_TIMEOUT_MS: '3000' } });
  t.teardown(() => srv.close());
  const c = srv.client;
  await c.initialize();
  const s = await c.request('session/create', { name: 'stubborn' });
  await c.request('session/subscribe', { sessionId: s.id });
  await c.request('session/message', { sessionId: s.id, content: '/tool test_sleep {"seconds":60,"ignoreAbort":true}', async: true });
  const pids = await toolPids(c, s.id);
  t.teardown(() => reap(pids));

  const socketClosed = new Promise<undefined>((r) => (c as WsClient).ws.once('close', () => r(undefined)));
  const exit = srv.signal('SIGTERM');
  // Ask until the server answers ShuttingDown (it does while turns wind down) or hangs up.
  let refused: Json;
  for (let i = 0; i < 200 && !refused; i++) {
    const r = await Promise.race([c.call('session/list', {}), socketClosed]);
    if (!r) break;
    if (r.error?.code === -32019) refused = r;
    else await new Promise((res) => setTimeout(res, 5));
  }
  t.ok(refused, 'ShuttingDown while turns wind down');
  t.equal(await exit, 0, 'exits 0 within the bound');
  t.ok(await waitGone(pids, 5000), 'the stubborn tool was killed');
  t.equal(c.events(s.id).find((e) => e.type === 'turn.interrupted')?.data.reason, 'shutdown');
  const next = await start('websocket', dataDir);
  t.teardown(() => next.close());
  await next.client.initialize();
  t.equal((await next.client.request('session/get', { sessionId: s.id })).session.status, 'idle');
});

t.test('websocket: shutdown ends only that connection', async (t) => {
  const srv = await start('websocket', tempDir());
  t.teardown(() => srv.close());
  await srv.client.initialize();
  t.same(await srv.client.request('shutdown'), {});
  t.equal((await srv.client.call('session/list', {})).error?.code, -32019);
  const url = `ws://127.0.0.1:${new URL((srv.client as WsClient).ws.url).port}/rpc`;
  const other = await WsClient.connect(url);
  t.teardown(() => other.close());
  await other.initialize();
  t.same((await other.request('session/list', {})).sessions, []);
});

t.test('session/cancel during a tool: the call gets an error result and the session goes on', async (t) => {
  const srv = await start('stdio', tempDir());
  t.teardown(() => srv.close());
  const c = srv.client;
  await c.initialize();
  const s = await c.request('session/create', { name: 'cancel' });
  await c.request('session/subscribe', { sessionId: s.id });
  await c.request('session/message', { sessionId: s.id, content: '/tool test_sleep {"seconds":30}', async: true });
  const pids = await toolPids(c, s.id);
  t.teardown(() => reap(pids));
  t.match(await c.request('session/cancel', { sessionId: s.id }), { cancelled: true });
  t.ok(await waitGone(pids, 5000), 'the tool was stopped');
  const got = await c.request('session/get', { sessionId: s.id });
  t.same(got.messages.map((m: Json) => [m.role, m.status]), [['user', 'complete'], ['assistant', 'complete'], ['user', 'complete']], 'the tool_use message stays complete');
  t.match(textOf(got.messages[2].content[0]), /interrupted: cancelled by client/);
  t.ok(c.events(s.id).some((e) => e.type === 'tool.failed'), 'tool.failed for the stopped call');
  t.equal((await c.request('session/message', { sessionId: s.id, content: 'next' })).content[0].text, 'Echo: next');
});
