// Approvals end to end over each JSON-RPC transport, with a real MCP server's tools (which ask by
// default): permission/request answered allow_once / allow_always / deny, tool/approve, timeout,
// policy deny rules, two clients (first answer wins) and the last client disconnecting.
import t, { type Test } from 'tap';
import { everythingStdio, writeConfig } from '../helpers/mcp.js';
import { spawnHttp, tempDir, WsClient, type Json, type RpcClient } from '../helpers/rpc-client.js';
import { open, RPC_TRANSPORTS } from '../helpers/transports.js';

const ECHO = 'mcp__everything__echo';

async function setup(t: Test, transport: (typeof RPC_TRANSPORTS)[number], approvals: Json = {}, capabilities: Json = { permissionRequests: true }) {
  const dataDir = tempDir();
  writeConfig(dataDir, { mcpServers: { everything: everythingStdio({ autoConnect: true }) }, approvals });
  const o = await open(transport, { dataDir });
  t.teardown(o.close);
  await o.client.initialize(capabilities);
  const { server } = await o.client.request('mcp/connect', { name: 'everything' });
  t.equal(server.status, 'connected', 'MCP server connected');
  return o;
}

async function session(client: RpcClient, extra: Json = {}) {
  const s = await client.request('session/create', { name: 'approvals', ...extra });
  await client.request('session/subscribe', { sessionId: s.id });
  return s;
}

const text = (m: Json) => m.content.map((c: Json) => c.text ?? '').join('');
const events = (c: RpcClient, sid: string, type: string) => c.events(sid).filter((e) => e.type === type);

for (const transport of RPC_TRANSPORTS) {
  t.test(`allow once, deny with reason, allow always over ${transport}`, async (t) => {
    const { client } = await setup(t, transport);
    const answers: Json[] = [{ decision: 'allow_once' }, { decision: 'deny', reason: 'not on a Friday' }, { decision: 'allow_always' }];
    client.onServerRequest = (method) => {
      if (method !== 'permission/request') throw new Error(method);
      return answers.shift();
    };
    const s = await session(client);

    const r1 = await client.request('session/message', { sessionId: s.id, content: `/tool ${ECHO} {"message":"hi"}` });
    t.equal(text(r1), 'Tool result: Echo: hi', 'allowed once: the tool ran and the model saw its result');
    t.equal(client.serverRequests.length, 1);
    const req = client.serverRequests[0];
    t.equal(req.method, 'permission/request');
    t.match(req.params, { sessionId: s.id, tool: ECHO, input: { message: 'hi' }, summary: `${ECHO}: hi` });
    const requested = events(client, s.id, 'permission.requested');
    t.equal(requested.length, 1);
    t.equal(requested[0].data.permissionId, req.params.permissionId);
    t.match(events(client, s.id, 'permission.resolved')[0].data, { permissionId: req.params.permissionId, decision: 'allow_once', tool: ECHO });

    const r2 = await client.request('session/message', { sessionId: s.id, content: `/tool ${ECHO} {"message":"again"}` });
    t.equal(text(r2), `Tool error: Permission denied: the user denied ${ECHO}: not on a Friday`, 'the denial and reason reach the model');
    t.equal(r2.status, 'complete', 'the turn continued after the denial');
    t.match(events(client, s.id, 'permission.resolved')[1].data, { decision: 'deny', reason: 'not on a Friday' });
    t.match(events(client, s.id, 'tool.failed').at(-1).data, { tool: ECHO, result: { isError: true } });

    const r3 = await client.request('session/message', { sessionId: s.id, content: `/tool ${ECHO} {"message":"three"}` });
    t.equal(text(r3), 'Tool result: Echo: three');
    const updated = await client.waitForEvent('session.updated');
    t.same(updated.data.session.policy.rules, [{ tool: ECHO, action: 'allow' }], 'allow_always is remembered as a session rule');
    const r4 = await client.request('session/message', { sessionId: s.id, content: `/tool ${ECHO} {"message":"four"}` });
    t.equal(text(r4), 'Tool result: Echo: four');
    t.equal(client.serverRequests.length, 3, 'no question after allow_always');
    const got = await client.request('session/get', { sessionId: s.id });
    t.same(got.session.policy.rules, [{ tool: ECHO, action: 'allow' }], 'persisted with the session');
    // Another tool of the same server still asks.
    answers.push({ decision: 'allow_once' });
    const r5 = await client.request('session/message', { sessionId: s.id, content: '/tool mcp__everything__get-sum {"a":2,"b":3}' });
    t.match(text(r5), /Tool result: .*5/);
    t.equal(client.serverRequests.length, 4);
  });

  t.test(`tool/approve, conflicts and timeout over ${transport}`, async (t) => {
    const { client } = await setup(t, transport, {}, {});
    const s = await session(client);
    const done = client.request('session/message', { sessionId: s.id, content: `/tool ${ECHO} {"message":"via approve"}` });
    const asked = await client.waitForEvent('permission.requested');
    t.equal(client.serverRequests.length, 0, 'no permission/request to a client without the capability');
    const { permissionId } = asked.data;
    const wrongTool = await client.call('tool/approve', { permissionId, decision: 'allow_once', toolName: 'run_command' });
    t.equal(wrongTool.error?.code, -32602);
    t.equal(wrongTool.error?.data.field, 'toolName');
    t.same(await client.request('tool/approve', { permissionId, decision: 'allow_once', toolName: ECHO }), { permissionId, decision: 'allow_once' });
    t.equal(text(await done), 'Tool result: Echo: via approve');
    const twice = await client.call('tool/approve', { permissionId, decision: 'deny' });
    t.equal(twice.error?.code, -32012, 'answering twice is a conflict');
    t.match(twice.error?.data, { permissionId, decision: 'allow_once' });
    const unknown = await client.call('tool/approve', { permissionId: 'perm_nope', decision: 'deny' });
    t.equal(unknown.error?.code, -32010);
    t.same(unknown.error?.data, { kind: 'permission', id: 'perm_nope' });

    // Nobody answers: the session's policy times out after 300 ms and the turn continues.
    const quick = await session(client, { policy: { timeoutMs: 300 } });
    const r = await client.request('session/message', { sessionId: quick.id, content: `/tool ${ECHO} {"message":"late"}` });
    t.equal(text(r), `Tool error: Permission denied: nobody approved ${ECHO} within 300 ms.`);
    t.match(events(client, quick.id, 'permission.resolved')[0].data, { decision: 'deny', reason: 'timeout' });
    const late = await client.call('tool/approve', { permissionId: events(client, quick.id, 'permission.requested')[0].data.permissionId, decision: 'allow_once' });
    t.equal(late.error?.code, -32012, 'approving after the timeout is a conflict');
  });

  t.test(`policy rules over ${transport}`, async (t) => {
    const { client } = await setup(t, transport, {
      rules: [
        { tool: 'mcp__everything__get-sum', action: 'deny' },
        { tool: 'mcp__everything__echo', match: 'safe*', action: 'allow' },
        { tool: 'mcp__everything__ech?', match: 'ok*', action: 'ask' },
      ],
    });
    client.onServerRequest = () => ({ decision: 'allow_once' });
    const s = await session(client);
    const denied = await client.request('session/message', { sessionId: s.id, content: '/tool mcp__everything__get-sum {"a":1,"b":2}' });
    t.match(text(denied), /^Tool error: Permission denied by rule .*get-sum.* of the config policy/);
    t.equal(events(client, s.id, 'permission.requested').length, 0, 'a deny rule asks nobody');
    const allowed = await client.request('session/message', { sessionId: s.id, content: `/tool ${ECHO} {"message":"safe words"}` });
    t.equal(text(allowed), 'Tool result: Echo: safe words');
    t.equal(client.serverRequests.length, 0, 'an allow rule whose glob matches the argument asks nobody');
    const asked = await client.request('session/message', { sessionId: s.id, content: `/tool ${ECHO} {"message":"other words"}` });
    t.equal(text(asked), 'Tool result: Echo: other words');
    t.equal(client.serverRequests.length, 1, 'no rule matched: MCP tools ask by default');

    // A session policy cannot lift a configured deny, but can allow what the config asks about.
    const own = await session(client, { policy: { rules: [{ tool: 'mcp__*', action: 'allow' }] } });
    const still = await client.request('session/message', { sessionId: own.id, content: '/tool mcp__everything__get-sum {"a":1,"b":2}' });
    t.match(text(still), /^Tool error: Permission denied by rule/);
    const free = await client.request('session/message', { sessionId: own.id, content: `/tool ${ECHO} {"message":"x"}` });
    t.equal(text(free), 'Tool result: Echo: x');
    t.equal(client.serverRequests.length, 1);

    // allow_always after a rule with `match` asked remembers that tool and that match only.
    client.onServerRequest = () => ({ decision: 'allow_always' });
    const rem = await session(client);
    t.equal(text(await client.request('session/message', { sessionId: rem.id, content: `/tool ${ECHO} {"message":"ok one"}` })), 'Tool result: Echo: ok one');
    t.equal(client.serverRequests.length, 2);
    t.same((await client.request('session/get', { sessionId: rem.id })).session.policy, { rules: [{ tool: ECHO, match: 'ok*', action: 'allow' }] });
    t.equal(text(await client.request('session/message', { sessionId: rem.id, content: `/tool ${ECHO} {"message":"ok two"}` })), 'Tool result: Echo: ok two');
    t.equal(client.serverRequests.length, 2, 'remembered');
    await client.request('session/message', { sessionId: rem.id, content: `/tool ${ECHO} {"message":"not ok"}` });
    t.equal(client.serverRequests.length, 3, 'another argument still asks');
  });
}

t.test('two clients: the first answer wins, the other is cancelled; the last client leaving denies', async (t) => {
  const { client: a, another } = await setup(t, 'websocket');
  const b = await another();
  await b.initialize({ permissionRequests: true });
  let releaseB!: () => void;
  const bAnswered = new Promise<void>((resolve) => { releaseB = resolve; });
  b.onServerRequest = async () => { await bAnswered; return { decision: 'deny', reason: 'too slow' }; };
  a.onServerRequest = async () => {
    await b.waitFor(() => b.serverRequests.length === 1, 5000, 'B asked too');
    return { decision: 'allow_once' };
  };
  const s = await session(a);
  await b.request('session/subscribe', { sessionId: s.id });
  const r = await a.request('session/message', { sessionId: s.id, content: `/tool ${ECHO} {"message":"race"}` });
  t.equal(text(r), 'Tool result: Echo: race', "A's answer won");
  const resolved = await b.waitForEvent('permission.resolved');
  t.equal(resolved.data.decision, 'allow_once', 'B sees the outcome');
  t.equal(b.serverRequests.length, 1);
  releaseB();
  const conflict = await b.call('tool/approve', { permissionId: resolved.data.permissionId, decision: 'deny' });
  t.equal(conflict.error?.code, -32012);
  t.equal((await a.call('tool/approve', { permissionId: resolved.data.permissionId, decision: 'deny' })).error?.code, -32012);

  // The last interested client disconnecting denies; the turn goes on without it.
  await a.request('session/unsubscribe', { sessionId: s.id });
  await b.request('session/unsubscribe', { sessionId: s.id });
  const c = (await another()) as WsClient;
  await c.initialize({});
  await c.request('session/subscribe', { sessionId: s.id });
  await c.request('session/message', { sessionId: s.id, content: `/tool ${ECHO} {"message":"orphan"}`, async: true });
  await c.waitForEvent('permission.requested');
  await c.close();
  let final: Json;
  for (let i = 0; i < 200; i++) {
    final = await a.request('session/get', { sessionId: s.id });
    if (final.session.status === 'idle') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(text(final.messages.at(-1)), `Tool error: Permission denied: no client is connected to approve ${ECHO}.`);
  await a.request('session/subscribe', { sessionId: s.id, since: 0 });
  const last = await a.waitFor(() => a.events(s.id).filter((e) => e.type === 'permission.resolved').at(-1)?.data.reason === 'no client', 5000, 'replayed resolution');
  t.ok(last);
});

t.test('a REST answer wins over a WebSocket client that holds a permission/request', async (t) => {
  const dataDir = tempDir();
  writeConfig(dataDir, { mcpServers: { everything: everythingStdio({ autoConnect: true }) } });
  const server = await spawnHttp({ dataDir });
  t.teardown(() => server.stop());
  const ws = await WsClient.connect(server.wsUrl);
  t.teardown(() => ws.close());
  await ws.initialize({ permissionRequests: true });
  ws.onServerRequest = () => new Promise(() => {}); // holds the question, never answers
  await ws.request('mcp/connect', { name: 'everything' });
  const s = await session(ws);
  const reply = ws.request('session/message', { sessionId: s.id, content: `/tool ${ECHO} {"message":"rest"}` });
  await ws.waitFor(() => ws.serverRequests.length === 1, 10_000, 'permission/request');
  const { permissionId } = ws.serverRequests[0].params;
  const post = (body: Json) => fetch(`${server.url}/v1/tool/${ECHO}/approve`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const res = await post({ permissionId, decision: 'allow_once' });
  t.equal(res.status, 200);
  t.same(await res.json(), { permissionId, decision: 'allow_once' });
  t.equal(text(await reply), 'Tool result: Echo: rest');
  await ws.waitFor(() => ws.notifications.some((n) => n.method === '$/cancelRequest' && n.params.id === ws.serverRequests[0].id), 5000, '$/cancelRequest');
  const again = await post({ permissionId, decision: 'deny' });
  t.equal(again.status, 409);
  t.equal((await again.json()).error.code, -32012);
});
