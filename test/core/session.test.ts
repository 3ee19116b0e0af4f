// Core scenario over each JSON-RPC transport: sessions, echo turns with streamed deltas, errors.
import t from 'tap';
import { open, RPC_TRANSPORTS } from '../helpers/transports.js';

for (const transport of RPC_TRANSPORTS) {
  t.test(`core scenario over ${transport}`, async (t) => {
    const { client, close } = await open(transport);
    t.teardown(close);

    const init = await client.initialize();
    t.equal(init.serverInfo.name, 'agentd');
    t.equal(init.protocolVersion, '1.0');
    t.ok(init.capabilities.methods.includes('session/message'));
    t.ok(init.capabilities.events.includes('message.delta'));

    const a = await client.request('session/create', { name: 'first' });
    const b = await client.request('session/create', { name: 'second' });
    t.match(a, { name: 'first', provider: 'echo', model: 'echo', status: 'idle' });
    t.match(a.id, /^ses_/);
    t.not(a.id, b.id);

    await client.request('session/subscribe', { sessionId: a.id });
    const reply = await client.request('session/message', { sessionId: a.id, content: 'hello there world' });
    t.equal(reply.role, 'assistant');
    t.equal(reply.status, 'complete');
    t.same(reply.content, [{ type: 'text', text: 'Echo: hello there world' }]);

    await client.waitForEvent('turn.completed');
    const events = client.events(a.id);
    const types = events.map((e) => e.type);
    t.same(types, ['message.created', 'turn.started', 'message.created', 'message.delta', 'message.delta', 'message.delta', 'message.delta', 'message.completed', 'usage.updated', 'turn.completed']);
    const deltas = events.filter((e) => e.type === 'message.delta').map((e) => e.data.delta.text).join('');
    t.equal(deltas, 'Echo: hello there world', 'deltas add up to the reply');
    const seqs = events.map((e) => e.seq);
    t.same(seqs, seqs.map((_, i) => seqs[0] + i), 'seq increases by one');
    t.equal(seqs[0], 2, 'session.created was seq 1');

    const list = await client.request('session/list', {});
    t.same(list.sessions.map((s: { id: string }) => s.id).sort(), [a.id, b.id].sort());

    const got = await client.request('session/get', { sessionId: a.id });
    t.equal(got.session.id, a.id);
    t.same(got.messages.map((m: { role: string }) => m.role), ['user', 'assistant']);
    t.equal(got.session.lastSeq, events.at(-1).seq);

    const del = await client.request('session/delete', { sessionId: b.id });
    t.same(del, { sessionId: b.id, deleted: true });
    const after = await client.request('session/list', {});
    t.same(after.sessions.map((s: { id: string }) => s.id), [a.id]);

    // Error paths.
    const notFound = await client.call('session/get', { sessionId: 'ses_nope' });
    t.equal(notFound.error?.code, -32010);
    t.same(notFound.error?.data, { kind: 'session', id: 'ses_nope' });
    const unknown = await client.call('session/frobnicate', {});
    t.equal(unknown.error?.code, -32601);
    const bad = await client.call('session/create', { name: 42 });
    t.equal(bad.error?.code, -32602);
    t.equal(bad.error?.data.field, 'name');
    const missing = await client.call('session/message', { sessionId: a.id });
    t.equal(missing.error?.code, -32602);
    t.equal(missing.error?.data.field, 'content');
    const extra = await client.call('session/list', { bogus: true });
    t.equal(extra.error?.data.field, 'bogus');
    const positional = await client.call('session/get', [a.id]);
    t.equal(positional.error?.code, -32602);
    const again = await client.call('initialize', { protocolVersion: '1.0' });
    t.equal(again.error?.code, -32600, 'second initialize is refused');
  });

  t.test(`lifecycle and malformed input over ${transport}`, async (t) => {
    const { client, close } = await open(transport);
    t.teardown(close);

    const early = await client.call('session/list', {});
    t.equal(early.error?.code, -32002, 'request before initialize');

    const wrongVersion = await client.call('initialize', { protocolVersion: '2.0' });
    t.equal(wrongVersion.error?.code, -32602);
    t.equal(wrongVersion.error?.data.field, 'protocolVersion');
    await client.initialize();

    const cases: Array<[string, number]> = [
      ['{not json', -32700],
      ['[]', -32600],
      ['[{"jsonrpc":"2.0","id":1,"method":"session/list"}]', -32600],
      ['42', -32600],
      ['"text"', -32600],
      ['null', -32600],
      ['{"jsonrpc":"1.0","id":7,"method":"session/list"}', -32600],
      ['{"id":8,"method":"session/list"}', -32600],
      ['{"jsonrpc":"2.0","id":{"x":1},"method":"session/list"}', -32600],
      ['{"jsonrpc":"2.0","id":9,"method":12}', -32600],
      ['{"jsonrpc":"2.0","id":10,"method":"session/list","params":"x"}', -32600],
      ['{"jsonrpc":"2.0","id":11}', -32600],
    ];
    for (const [text] of cases) client.raw(text);
    await client.waitFor(() => client.orphans.length >= cases.length, 5000, 'error replies');
    const codes = client.orphans.map((o) => o.error?.code);
    t.same(codes.sort(), cases.map(([, c]) => c).sort(), 'every malformed message got its typed error');
    const withIds = client.orphans.filter((o) => o.id !== null).map((o) => o.id).sort();
    t.same(withIds, [10, 11, 7, 8, 9].sort(), 'ids are echoed where they are valid');

    // The connection still works afterwards.
    const list = await client.request('session/list', {});
    t.same(list.sessions, []);

    const shut = await client.request('shutdown');
    t.same(shut, {});
    const afterShutdown = await client.call('session/list', {});
    t.equal(afterShutdown.error?.code, -32019, "after shutdown: ShuttingDown");
  });
}
