// The typed client library against the real server over stdio and WebSocket.
import { spawnSync, type ChildProcess } from 'node:child_process';
import WebSocket from 'ws';
import t from 'tap';
import {
  AgentClient, ConnectionClosedError, ErrorCodes, methodTable, nodeWebSocketConnector, requestWrappers, RpcResponseError, websocketConnector, type TypedEvent, type WebSocketLike,
} from '../../protocol/client/node.js';
import { CLIENT_TRANSPORTS, localStdio, openClient, until } from '../helpers/agent-client.js';
import { AGENTD, spawnHttp, tempDir } from '../helpers/rpc-client.js';

t.test('one wrapper per client request in the manifest', async (t) => {
  const requests = Object.entries(methodTable)
    .filter(([, m]) => m.kind === 'request' && m.direction === 'clientToServer' && (m as { params: string }).params && true)
    .map(([name]) => name).filter((n) => n !== 'initialize').sort();
  t.same(Object.values(requestWrappers).sort(), requests);
  for (const name of Object.keys(requestWrappers)) t.type((AgentClient.prototype as unknown as Record<string, unknown>)[name], 'function', name);
});

for (const transport of CLIENT_TRANSPORTS) {
  t.test(`typed client over ${transport}`, async (t) => {
    const { client, close } = await openClient(transport, { clientInfo: { name: 'client-test' } });
    t.teardown(close);
    t.equal(client.state, 'connected');
    t.equal(client.transport, transport);
    t.equal(client.serverInfo?.serverInfo.name, 'agentd');

    const s = await client.createSession({ name: 'lib' });
    t.match(s, { name: 'lib', provider: 'echo', status: 'idle' });
    const events: TypedEvent[] = [];
    client.onEvent((e) => events.push(e));
    const deltas: string[] = [];
    client.on('message.delta', (d) => { if (d.delta.type === 'text_delta') deltas.push(d.delta.text); });
    const sub = await client.subscribe({ sessionId: s.id });
    t.equal(sub.subscribed, true);

    const reply = await client.sendMessage({ sessionId: s.id, content: 'typed hello' });
    t.match(reply, { role: 'assistant', status: 'complete', content: [{ type: 'text', text: 'Echo: typed hello' }] });
    await until(() => events.some((e) => e.type === 'turn.completed'), 10_000, 'turn.completed');
    t.equal(deltas.join(''), 'Echo: typed hello');
    const seqs = events.map((e) => e.seq);
    t.same(seqs, seqs.map((_, i) => seqs[0] + i), 'no gap, no duplicate');
    t.equal(client.lastSeen(s.id), seqs.at(-1));

    const list = await client.listSessions();
    t.same(list.sessions.map((x) => x.id), [s.id]);
    const got = await client.getSession(s.id);
    t.equal(got.messages.length, 2);
    const providers = await client.listProviders();
    t.ok(providers.providers.some((p) => p.id === 'echo'));

    const err = await client.getSession('ses_nope').catch((e) => e);
    t.ok(err instanceof RpcResponseError, 'a typed error');
    t.equal(err.code, ErrorCodes.NotFound);
    t.match(err.data, { kind: 'session', id: 'ses_nope' });

    // Cancel through an AbortSignal: the request is cancelled and so is its turn.
    const slow = await client.createSession({ name: 'slow', model: 'echo-slow' });
    await client.subscribe({ sessionId: slow.id });
    const ac = new AbortController();
    const pending = client.sendMessage({ sessionId: slow.id, content: 'one two three four five six seven eight nine ten' }, ac.signal);
    await until(() => events.some((e) => e.sessionId === slow.id && e.type === 'message.delta'), 10_000, 'first delta');
    ac.abort();
    await pending.catch(() => undefined);
    await until(() => events.some((e) => e.sessionId === slow.id && e.type === 'turn.cancelled'), 10_000, 'turn.cancelled');

    const un = await client.unsubscribe({ sessionId: s.id });
    t.equal(un.unsubscribed, true);
    t.equal(client.lastSeen(s.id), undefined);
    await client.deleteSession(s.id);
  });
}

t.test('stdio: the server dies, the client says so, connect() restarts it and resubscribes', async (t) => {
  const dataDir = tempDir();
  let proc: ChildProcess | undefined;
  let spawned = 0;
  const client = new AgentClient(localStdio(dataDir, { onSpawn: (p) => { proc = p; spawned++; } }));
  t.teardown(() => client.close());
  const states: Array<[string, Error | undefined]> = [];
  client.onStateChange((s, e) => states.push([s, e]));
  await client.connect();
  const s = await client.createSession({ name: 'survivor' });
  const events: TypedEvent[] = [];
  client.onEvent((e) => events.push(e));
  await client.subscribe({ sessionId: s.id });
  await client.sendMessage({ sessionId: s.id, content: 'before' });
  await until(() => events.some((e) => e.type === 'turn.completed'));
  const seenBefore = client.lastSeen(s.id)!;

  proc!.kill('SIGKILL');
  await until(() => client.state === 'closed', 10_000, 'closed');
  const lost = states.find(([st]) => st === 'closed')!;
  t.ok(lost[1] instanceof ConnectionClosedError, 'closed with the cause');
  t.match(lost[1]!.message, /agentd exited/);
  const refused = await client.listSessions().catch((e) => e);
  t.ok(refused instanceof ConnectionClosedError, 'requests fail while down');

  // Meanwhile another process on the same data dir adds to the session.
  const other = new AgentClient(localStdio(dataDir));
  await other.connect();
  await other.sendMessage({ sessionId: s.id, content: 'while you were away' });
  await other.close();

  await client.connect();
  t.equal(client.state, 'connected');
  await until(() => events.filter((e) => e.type === 'turn.completed').length === 2, 10_000, 'missed turn replayed');
  const seqs = events.map((e) => e.seq);
  t.same(seqs, seqs.map((_, i) => seqs[0] + i), 'replay continues from the last seen seq: no gap, no duplicate');
  t.ok(client.lastSeen(s.id)! > seenBefore);
  const texts = events.filter((e) => e.type === 'message.completed').map((e) => (e.data as { message: { content: Array<{ text?: string }> } }).message.content[0].text);
  t.same(texts, ['Echo: before', 'Echo: while you were away']);
  t.equal(spawned, 2, 'connect() spawned a new server');
});

t.test('websocket: reconnects by itself and resubscribes from the last seen seq', async (t) => {
  const dataDir = tempDir();
  const first = await spawnHttp({ dataDir });
  const port = new URL(first.url).port;
  const client = new AgentClient(nodeWebSocketConnector({ url: first.wsUrl }), { reconnect: { initialDelayMs: 100, maxDelayMs: 500, maxAttempts: 50 } });
  let second: Awaited<ReturnType<typeof spawnHttp>> | undefined;
  t.teardown(async () => { await client.close(); await first.stop(); await second?.stop(); });
  const states: string[] = [];
  client.onStateChange((s) => states.push(s));
  await client.connect();
  const s = await client.createSession({ name: 'ws-survivor' });
  const events: TypedEvent[] = [];
  client.onEvent((e) => events.push(e));
  await client.subscribe({ sessionId: s.id });
  await client.sendMessage({ sessionId: s.id, content: 'first' });
  await until(() => events.some((e) => e.type === 'turn.completed'));

  await first.stop();
  await until(() => client.state === 'reconnecting', 10_000, 'reconnecting');
  const other = new AgentClient(localStdio(dataDir));
  await other.connect();
  await other.sendMessage({ sessionId: s.id, content: 'second' });
  await other.close();

  second = await spawnHttp({ dataDir, args: ['--port', port] });
  await until(() => events.filter((e) => e.type === 'turn.completed').length === 2, 15_000, 'missed turn replayed');
  // The replayed events arrive before the resubscribe's reply, and the state follows that reply.
  await until(() => client.state === 'connected', 5_000, 'connected');
  t.ok(states.includes('reconnecting'));
  const seqs = events.map((e) => e.seq);
  t.same(seqs, seqs.map((_, i) => seqs[0] + i), 'no gap, no duplicate across the reconnect');
  const reply = await client.sendMessage({ sessionId: s.id, content: 'third' });
  t.match(reply, { content: [{ text: 'Echo: third' }] });
});

t.test('websocket with an API key: Authorization header (Node) or subprotocol token (browsers)', async (t) => {
  const dataDir = tempDir();
  const created = spawnSync(process.execPath, [AGENTD, 'key', 'create', '--name', 'client-test', '--data-dir', dataDir], { encoding: 'utf8' });
  t.equal(created.status, 0, created.stderr);
  const key = created.stdout.trim();
  const server = await spawnHttp({ dataDir });
  t.teardown(() => server.stop());

  const withHeader = new AgentClient(nodeWebSocketConnector({ url: server.wsUrl, apiKey: key }));
  await withHeader.connect();
  t.equal(withHeader.state, 'connected', 'key in the Authorization header');
  t.match(await withHeader.createSession({ name: 'keyed' }), { name: 'keyed' });
  await withHeader.close();

  // What a browser does: no headers, the key as a subprotocol.
  const offered: string[][] = [];
  const browserLike = new AgentClient(websocketConnector({
    url: server.wsUrl, apiKey: key,
    createSocket: (url, protocols, headers) => {
      offered.push(protocols);
      t.same(headers, {}, 'no header from a browser');
      return new WebSocket(url, protocols) as unknown as WebSocketLike;
    },
  }));
  await browserLike.connect();
  t.same(offered[0], ['agentd', `agentd.bearer.${key}`]);
  t.equal((await browserLike.listSessions()).sessions.length, 1);
  await browserLike.close();

  const without = new AgentClient(nodeWebSocketConnector({ url: server.wsUrl }));
  const refused = await without.connect().catch((e) => e);
  t.ok(refused instanceof ConnectionClosedError, 'no key: the upgrade is refused');
  t.equal(without.state, 'closed');
  const wrong = new AgentClient(nodeWebSocketConnector({ url: server.wsUrl, apiKey: 'agentd_wrong' }));
  t.ok((await wrong.connect().catch((e) => e)) instanceof ConnectionClosedError, 'a wrong key is refused');
});
