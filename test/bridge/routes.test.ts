// The REST mapping: statuses, Prefer: respond-async, query coercion, and a client that goes
// away mid-turn cancels the turn (as cancelling a JSON-RPC request does).
import t from 'tap';
import { SseStream } from '../helpers/driver.js';
import { spawnHttp } from '../helpers/rpc-client.js';

t.test('REST routes over a running server', async (t) => {
  const server = await spawnHttp();
  t.teardown(() => server.stop());
  const { url } = server;
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(url + path, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json', ...headers } });
    return { status: res.status, headers: res.headers, body: await res.json() };
  };

  const health = await fetch(`${url}/v1/health`);
  t.same(await health.json(), { status: 'ok', name: 'agentd', version: '0.1.0', protocolVersion: '1.0' });

  const created = await post('/v1/session', { name: 'r', model: 'echo-slow' });
  t.equal(created.status, 201);
  const id = created.body.id;
  const got = await fetch(`${url}/v1/session/${id}`);
  t.equal(got.status, 200);
  t.same((await got.json()).messages, []);

  // Prefer among other preferences; Preference-Applied says so.
  const events = await SseStream.open(`${url}/v1/session/${id}/events`);
  t.teardown(() => events.close());
  const accepted = await post(`/v1/session/${id}/message`, { content: 'a b' }, { Prefer: 'wait=10, respond-async' });
  t.equal(accepted.status, 202);
  t.equal(accepted.headers.get('preference-applied'), 'respond-async');
  t.match(accepted.body, { sessionId: id, status: 'accepted', turnId: /^turn_/ });
  await events.waitFor(() => events.events.find((e) => e.type === 'turn.completed'), 10_000, 'first turn');

  // `async: true` in the body is the same request.
  const viaBody = await post(`/v1/session/${id}/message`, { content: 'c d', async: true });
  t.equal(viaBody.status, 202);
  await events.waitFor(() => events.events.filter((e) => e.type === 'turn.completed').length === 2, 10_000, 'second turn');

  // GET params come from the query string.
  const tools = await fetch(`${url}/v1/tool?sessionId=${id}`);
  t.equal(tools.status, 200);
  t.ok(Array.isArray((await tools.json()).tools));

  // A client that hangs up on a waiting message request cancels its turn.
  const abort = new AbortController();
  const pending = fetch(`${url}/v1/session/${id}/message`, {
    method: 'POST', body: JSON.stringify({ content: Array.from({ length: 40 }, () => 'w').join(' ') }),
    headers: { 'Content-Type': 'application/json' }, signal: abort.signal,
  }).catch((err: Error) => err);
  const deltasBefore = events.events.filter((e) => e.type === 'message.delta').length;
  await events.waitFor(() => events.events.filter((e) => e.type === 'message.delta').length > deltasBefore, 10_000, 'third turn streams');
  abort.abort();
  t.type(await pending, Error, 'the request was aborted');
  const cancelled = await events.waitFor(() => events.events.find((e) => e.type === 'turn.cancelled'), 10_000, 'turn.cancelled');
  t.equal(cancelled.data.reason, 'request cancelled');
  const after = await (await fetch(`${url}/v1/session/${id}`)).json();
  t.equal(after.session.status, 'idle');

  const del = await fetch(`${url}/v1/session/${id}`, { method: 'DELETE' });
  t.same(await del.json(), { sessionId: id, deleted: true });
  t.equal((await fetch(`${url}/v1/session/${id}`)).status, 404);
});
