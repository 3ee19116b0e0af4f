// Pending permissions reach clients that come later: a client that declared
// capabilities.permissionRequests and subscribes after a permission was asked receives its
// permission/request and can answer it; the requests still out to other clients are then
// cancelled with $/cancelRequest, and permission.resolved says who won. Over WebSocket (two
// clients), stdio (the one client subscribes late, and answers a request it holds with
// tool/approve) and REST (permission/list + tool/approve while a WebSocket client holds one).
import t from 'tap';
import { spawnHttp, spawnStdio, tempDir, WsClient, type Json, type RpcClient } from '../helpers/rpc-client.js';

const WRITE = (ws: string) => ({ name: 'pending', workspaceRoot: ws });
const ASK = '/tool write_file {"path":"a.txt","content":"written"}';

/** A permission/request handler that holds each request until `release` is called. */
function holding(client: RpcClient) {
  const held: Array<{ params: Json; answer: (r: Json) => void }> = [];
  client.onServerRequest = (method, params) => {
    if (method !== 'permission/request') throw new Error(method);
    return new Promise((answer) => held.push({ params, answer }));
  };
  return held;
}

const cancelsOf = (c: RpcClient) => c.notifications.filter((n) => n.method === '$/cancelRequest').map((n) => n.params.id);
const requestIds = (c: RpcClient) => c.serverRequests.filter((r) => r.method === 'permission/request').map((r) => r.id);

t.test('websocket: a client connecting after the question receives it, answers it, and the first client\'s request is cancelled', async (t) => {
  const server = await spawnHttp({ dataDir: tempDir() });
  t.teardown(() => server.stop());
  const ws = tempDir('agentd-ws-');
  const first = await WsClient.connect(server.wsUrl);
  t.teardown(() => first.close());
  await first.initialize({ permissionRequests: true });
  const heldByFirst = holding(first);
  const s = await first.request('session/create', WRITE(ws));
  await first.request('session/subscribe', { sessionId: s.id });
  await first.request('session/message', { sessionId: s.id, content: ASK, async: true });
  await first.waitFor(() => heldByFirst.length === 1, 10_000, 'the first client asked');
  const permissionId = heldByFirst[0].params.permissionId;

  // The IDE reconnects: a new connection, after the question was asked.
  const late = await WsClient.connect(server.wsUrl);
  t.teardown(() => late.close());
  await late.initialize({ permissionRequests: true });
  const listed = await late.request('permission/list', { sessionId: s.id });
  t.same(listed.permissions.map((p: Json) => p.permissionId), [permissionId], 'permission/list shows the open question');
  let answered = false;
  late.onServerRequest = (method, params) => {
    t.equal(method, 'permission/request');
    if (!answered) t.equal(params.permissionId, permissionId, 'the late client is asked the pending permission');
    answered = true;
    return { decision: 'allow_once' };
  };
  await late.request('session/subscribe', { sessionId: s.id });
  await first.waitFor(() => cancelsOf(first).includes(requestIds(first)[0]), 10_000, '$/cancelRequest to the first client');
  t.ok(answered, 'the late client answered');
  const resolved = await late.waitForEvent('permission.resolved');
  t.match(resolved.data, { permissionId, decision: 'allow_once', by: { type: 'client', via: 'permission/request', transport: 'websocket', clientName: 'test' } });
  t.not(resolved.data.by.connectionId, undefined);
  await late.waitForEvent('turn.completed');
  t.same((await late.request('permission/list', {})).permissions, [], 'nothing pending any more');
  // A late answer from the first client changes nothing.
  heldByFirst[0].answer({ decision: 'deny' });
  t.equal(late.events(s.id).filter((e) => e.type === 'permission.resolved').length, 1, 'resolved once');

  // Subscribing again does not ask twice; a peer without the capability is never asked.
  const plain = await WsClient.connect(server.wsUrl);
  t.teardown(() => plain.close());
  await plain.initialize({});
  await plain.request('session/message', { sessionId: s.id, content: '/tool write_file {"path":"b.txt","content":"b"}', async: true });
  await first.waitFor(() => heldByFirst.length === 2, 10_000, 'the second question');
  await plain.request('session/subscribe', { sessionId: s.id });
  await plain.request('session/subscribe', { sessionId: s.id });
  await late.request('session/subscribe', { sessionId: s.id });
  await late.waitFor(() => requestIds(late).length === 2, 10_000, 'the late client asked the second question');
  await late.request('session/subscribe', { sessionId: s.id });
  await late.request('permission/list', {});
  t.equal(requestIds(late).length, 2, 'once per client per permission, however often it subscribes');
  t.equal(plain.serverRequests.length, 0, 'a client without permissionRequests is not asked');
  await late.waitForEvent('turn.completed', (e) => e.seq > resolved.seq);
});

t.test('stdio: the client subscribes after the question, receives it, answers; then one it holds is cancelled when it answers with tool/approve', async (t) => {
  const client = spawnStdio({ dataDir: tempDir() });
  t.teardown(() => client.close());
  await client.initialize({ permissionRequests: true });
  const s = await client.request('session/create', WRITE(tempDir('agentd-ws-')));
  // Not subscribed and not waiting: nobody is asked yet.
  await client.request('session/message', { sessionId: s.id, content: ASK, async: true });
  let listed: Json[] = [];
  for (let i = 0; i < 100 && !listed.length; i++) {
    listed = (await client.request('permission/list', { sessionId: s.id })).permissions;
    if (!listed.length) await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(listed.length, 1, 'the permission is pending');
  t.equal(client.serverRequests.length, 0, 'and nobody was asked');
  client.onServerRequest = () => ({ decision: 'allow_once' });
  await client.request('session/subscribe', { sessionId: s.id });
  await client.waitForEvent('turn.completed');
  t.equal(client.serverRequests[0].params.permissionId, listed[0].permissionId, 'asked on subscribing');
  t.match(client.events(s.id).find((e) => e.type === 'permission.resolved').data, { decision: 'allow_once', by: { type: 'client', via: 'permission/request', transport: 'stdio' } });

  const held = holding(client);
  await client.request('session/message', { sessionId: s.id, content: '/tool write_file {"path":"b.txt","content":"b"}', async: true });
  await client.waitFor(() => held.length === 1, 10_000, 'asked the second');
  await client.request('tool/approve', { permissionId: held[0].params.permissionId, decision: 'deny', reason: 'not now' });
  const reqId = client.serverRequests.at(-1).id;
  await client.waitFor(() => cancelsOf(client).includes(reqId), 10_000, '$/cancelRequest of the request it still holds');
  const resolved = await client.waitForEvent('permission.resolved', (e) => e.data.permissionId === held[0].params.permissionId);
  t.match(resolved.data.by, { type: 'client', via: 'tool/approve', transport: 'stdio' });
});

t.test('rest: permission/list and tool/approve answer it; the WebSocket client that came late has its request cancelled', async (t) => {
  const server = await spawnHttp({ dataDir: tempDir() });
  t.teardown(() => server.stop());
  const post = async (path: string, body: Json) => {
    const r = await fetch(server.url + path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: await r.json() };
  };
  const get = async (path: string) => { const r = await fetch(server.url + path); return { status: r.status, body: await r.json() }; };
  const s = (await post('/v1/session', WRITE(tempDir('agentd-ws-')))).body;
  t.equal((await fetch(`${server.url}/v1/session/${s.id}/message`, { method: 'POST', headers: { 'Content-Type': 'application/json', Prefer: 'respond-async' }, body: JSON.stringify({ content: ASK }) })).status, 202);
  let perms: Json[] = [];
  for (let i = 0; i < 100 && !perms.length; i++) {
    perms = (await get(`/v1/permission?sessionId=${s.id}`)).body.permissions;
    if (!perms.length) await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(perms.length, 1, 'GET /v1/permission?sessionId= lists it');
  t.equal((await get('/v1/permission?sessionId=ses_nope')).status, 404);

  const ide = await WsClient.connect(server.wsUrl);
  t.teardown(() => ide.close());
  await ide.initialize({ permissionRequests: true });
  const held = holding(ide);
  await ide.request('session/subscribe', { sessionId: s.id });
  await ide.waitFor(() => held.length === 1, 10_000, 'the late IDE is asked');
  t.equal(held[0].params.permissionId, perms[0].permissionId);

  const ok = await post(`/v1/tool/write_file/approve`, { permissionId: perms[0].permissionId, decision: 'deny', reason: 'from the web' });
  t.equal(ok.status, 200);
  await ide.waitFor(() => cancelsOf(ide).includes(requestIds(ide)[0]), 10_000, '$/cancelRequest to the IDE');
  const resolved = await ide.waitForEvent('permission.resolved');
  t.match(resolved.data, { decision: 'deny', reason: 'from the web', by: { type: 'client', via: 'tool/approve', transport: 'rest' } });
  t.same((await get('/v1/permission')).body.permissions, []);
});
