// A retried mutating request with the same idempotencyKey returns the first result and acts once; other params under the same key are a Conflict.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { AGENTD, spawnHttp, tempDir, WsClient, type Json } from '../helpers/rpc-client.js';
import { open, RPC_TRANSPORTS } from '../helpers/transports.js';
import { start } from '../helpers/durability.js';

for (const transport of RPC_TRANSPORTS) {
  t.test(`idempotency keys over ${transport}`, async (t) => {
    const { client, another, close } = await open(transport);
    t.teardown(close);
    await client.initialize();

    const a = await client.request('session/create', { name: 'once', idempotencyKey: 'create-1' });
    const b = await client.request('session/create', { idempotencyKey: 'create-1', name: 'once' });
    t.same(b, a, 'the retry returns the first result');
    t.equal((await client.request('session/list', {})).sessions.length, 1, 'and creates nothing');

    const conflict = await client.call('session/create', { name: 'other', idempotencyKey: 'create-1' });
    t.equal(conflict.error?.code, -32012, 'same key, other params: Conflict');
    t.same(conflict.error?.data, { idempotencyKey: 'create-1' });
    const otherMethod = await client.call('session/message', { sessionId: a.id, content: 'x', idempotencyKey: 'create-1' });
    t.equal(otherMethod.error?.code, -32012, 'same key on another method: Conflict');

    // Concurrent duplicates run once.
    const [c1, c2] = await Promise.all([
      client.request('session/create', { name: 'race', idempotencyKey: 'create-2' }),
      client.request('session/create', { name: 'race', idempotencyKey: 'create-2' }),
    ]);
    t.equal(c1.id, c2.id, 'concurrent retries share one outcome');
    t.equal((await client.request('session/list', {})).sessions.length, 2);

    // session/message: the turn runs once; the retry (from another connection) gets the same reply.
    const m1 = await client.request('session/message', { sessionId: a.id, content: 'hello', idempotencyKey: 'msg-1' });
    const other = await another();
    await other.initialize();
    const m2 = await other.request('session/message', { sessionId: a.id, content: 'hello', idempotencyKey: 'msg-1' });
    t.same(m2, m1, 'same assistant message');
    const got = await client.request('session/get', { sessionId: a.id });
    t.equal(got.messages.length, 2, 'one turn, not two');

    // Async turns: the retry returns the same turn id.
    const t1 = await client.request('session/message', { sessionId: a.id, content: 'again', async: true, idempotencyKey: 'msg-2' });
    const t2 = await client.request('session/message', { sessionId: a.id, content: 'again', async: true, idempotencyKey: 'msg-2' });
    t.same(t2, t1);
    await client.request('session/subscribe', { sessionId: a.id, since: 0 });
    await client.waitFor(() => client.events(a.id).filter((e: Json) => e.type === 'turn.completed').length === 2, 5000, 'second turn');
    t.equal(client.events(a.id).filter((e: Json) => e.type === 'turn.started').length, 2, 'two turns in all');

    // A failure that means "not done" (busy) is not remembered: the retry acts.
    const slow = await client.request('session/create', { name: 'slow', model: 'echo-slow' });
    await client.request('session/subscribe', { sessionId: slow.id });
    const running = client.request('session/message', { sessionId: slow.id, content: 'a b c d e' });
    await client.waitForEvent('turn.started', (e) => e.sessionId === slow.id);
    const busy = await other.call('session/message', { sessionId: slow.id, content: 'later', idempotencyKey: 'msg-3' });
    t.equal(busy.error?.code, -32011, 'busy');
    await running;
    const retried = await other.request('session/message', { sessionId: slow.id, content: 'later', idempotencyKey: 'msg-3' });
    t.equal(retried.content[0].text, 'Echo: later', 'a retry after busy runs');

    // Keys are validated like any param.
    const bad = await client.call('session/create', { name: 'x', idempotencyKey: '' });
    t.equal(bad.error?.code, -32602);
  });
}

t.test('idempotency records survive a restart', async (t) => {
  const dataDir = tempDir();
  const first = await start('stdio', dataDir);
  await first.client.initialize();
  const s = await first.client.request('session/create', { name: 'before', idempotencyKey: 'k-restart' });
  await first.close();
  const second = await start('stdio', dataDir);
  t.teardown(() => second.close());
  await second.client.initialize();
  const again = await second.client.request('session/create', { name: 'before', idempotencyKey: 'k-restart' });
  t.same(again, s, 'the first result, from the store');
  t.equal((await second.client.request('session/list', {})).sessions.length, 1);
  const conflict = await second.client.call('session/create', { name: 'after', idempotencyKey: 'k-restart' });
  t.equal(conflict.error?.code, -32012);
});

t.test('idempotency keys are scoped per API key', async (t) => {
  const dataDir = tempDir();
  const cli = (...args: string[]) => spawnSync(process.execPath, [AGENTD, ...args, '--data-dir', dataDir], { encoding: 'utf8', env: { ...process.env, AGENTD_LOG_LEVEL: 'warn' } });
  const k1 = cli('key', 'create', '--name', 'one').stdout.trim();
  const k2 = cli('key', 'create', '--name', 'two').stdout.trim();
  const server = await spawnHttp({ dataDir });
  t.teardown(() => server.stop());
  const one = await WsClient.connect(server.wsUrl, { headers: { authorization: `Bearer ${k1}` } });
  const two = await WsClient.connect(server.wsUrl, { headers: { authorization: `Bearer ${k2}` } });
  t.teardown(async () => { await one.close(); await two.close(); });
  await one.initialize();
  await two.initialize();
  const a = await one.request('session/create', { name: 'mine', idempotencyKey: 'shared-key' });
  const b = await two.request('session/create', { name: 'theirs', idempotencyKey: 'shared-key' });
  t.not(b.id, a.id, 'another API key neither sees the first outcome nor conflicts with it');
  t.same(await one.request('session/create', { name: 'mine', idempotencyKey: 'shared-key' }), a, 'each key still deduplicates its own retries');
});
