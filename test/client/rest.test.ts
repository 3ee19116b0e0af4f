// The typed client library over REST + SSE (/v1), against the real server.
import t from 'tap';
import { AgentClient, ErrorCodes, restConnector, RpcResponseError, type TypedEvent } from '../../protocol/client/node.js';
import { until } from '../helpers/agent-client.js';
import { spawnHttp, tempDir } from '../helpers/rpc-client.js';

t.test('typed client over REST + SSE', async (t) => {
  const server = await spawnHttp();
  const client = new AgentClient(restConnector({ baseUrl: server.url }));
  t.teardown(async () => { await client.close(); await server.stop(); });
  await client.connect();
  t.equal(client.state, 'connected');
  t.equal(client.transport, 'rest');
  t.equal(client.serverInfo, undefined, 'no initialize over REST');

  const s = await client.createSession({ name: 'rest' });
  t.match(s, { name: 'rest', provider: 'echo' });
  const events: TypedEvent[] = [];
  client.onEvent((e) => events.push(e));
  const sub = await client.subscribe({ sessionId: s.id });
  t.equal(sub.subscribed, true);
  const reply = await client.sendMessage({ sessionId: s.id, content: 'over rest' });
  t.match(reply, { role: 'assistant', content: [{ type: 'text', text: 'Echo: over rest' }] });
  await until(() => events.some((e) => e.type === 'turn.completed'), 10_000, 'turn.completed over SSE');
  t.equal(events.filter((e) => e.type === 'message.delta').map((e) => (e.data as { delta: { text: string } }).delta.text).join(''), 'Echo: over rest');
  const seqs = events.map((e) => e.seq);
  t.same(seqs, seqs.map((_, i) => seqs[0] + i), 'no gap, no duplicate');

  const accepted = await client.sendMessage({ sessionId: s.id, content: 'later', async: true });
  t.match(accepted, { status: 'accepted', sessionId: s.id });
  await until(() => events.filter((e) => e.type === 'turn.completed').length === 2, 10_000, 'async turn');

  t.same((await client.listSessions()).sessions.map((x) => x.id), [s.id]);
  t.equal((await client.getSession(s.id)).messages.length, 4);
  t.ok((await client.listProviders()).providers.some((p) => p.id === 'echo'));
  t.type((await client.listTools()).tools, Array);

  const err = await client.getSession('ses_nope').catch((e) => e);
  t.ok(err instanceof RpcResponseError);
  t.equal(err.code, ErrorCodes.NotFound);
  t.equal(err.status, 404);
  const un = await client.unsubscribe({ sessionId: s.id });
  t.equal(un.unsubscribed, true);
  await client.deleteSession(s.id);
});

t.test('REST: the event stream drops, the client reconnects and resumes with Last-Event-ID', async (t) => {
  const dataDir = tempDir();
  const first = await spawnHttp({ dataDir });
  const port = new URL(first.url).port;
  const client = new AgentClient(restConnector({ baseUrl: first.url }), { reconnect: { initialDelayMs: 100, maxDelayMs: 500, maxAttempts: 50 } });
  let second: Awaited<ReturnType<typeof spawnHttp>> | undefined;
  t.teardown(async () => { await client.close(); await first.stop(); await second?.stop(); });
  await client.connect();
  const s = await client.createSession({ name: 'rest-survivor' });
  const events: TypedEvent[] = [];
  client.onEvent((e) => events.push(e));
  await client.subscribe({ sessionId: s.id });
  await client.sendMessage({ sessionId: s.id, content: 'one' });
  await until(() => events.some((e) => e.type === 'turn.completed'));

  await first.stop();
  await until(() => client.state === 'reconnecting', 10_000, 'reconnecting');
  second = await spawnHttp({ dataDir, args: ['--port', port] });
  await until(() => client.state === 'connected', 15_000, 'connected again');
  await client.sendMessage({ sessionId: s.id, content: 'two' });
  await until(() => events.filter((e) => e.type === 'turn.completed').length === 2, 10_000, 'second turn');
  const seqs = events.map((e) => e.seq);
  t.same(seqs, seqs.map((_, i) => seqs[0] + i), 'no gap, no duplicate across the reconnect');
});
