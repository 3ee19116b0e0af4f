// session/files over WebSocket: file/read and file/write go to the connection that asked; a bad
// answer (no text, too large) is the tool's error; bad params; the disk again once it closes.
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { reply, startAnthropicServer } from '../helpers/anthropic-server.js';
import { spawnHttp, tempDir, WsClient, type Json } from '../helpers/rpc-client.js';

const lastResult = (body: Json) => JSON.stringify(body.messages.at(-1).content.find((c: Json) => c.type === 'tool_result'));

t.test('session/files: reads and writes through the client, bounded, unbound on close', async (t) => {
  const api = await startAnthropicServer();
  t.teardown(() => api.close());
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ defaultProvider: 'anthropic', approvals: { rules: [{ tool: 'write_file', action: 'allow' }] } }));
  const http = await spawnHttp({ dataDir, env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'sk-ant-test' } });
  t.teardown(() => http.stop());
  const ws = realpathSync(tempDir('agentd-ws-'));
  writeFileSync(join(ws, 'f.txt'), 'disk');
  const c = await WsClient.connect(http.wsUrl);
  await c.initialize({});
  const s = await c.request('session/create', { workspaceRoot: ws });

  t.match((await c.call('session/files', { sessionId: 'ses_nope', read: true })).error, { code: -32010 });
  t.match((await c.call('session/files', { sessionId: s.id, read: 'yes' })).error, { code: -32602 });
  t.same(await c.request('session/files', { sessionId: s.id, read: true, write: true }), { sessionId: s.id, read: true, write: true });

  let answer: (p: Json) => Json = (p) => ({ content: `buffer of ${p.path}` });
  const written: Json[] = [];
  c.onServerRequest = (method, p) => {
    if (method === 'file/read') return answer(p);
    if (method === 'file/write') { written.push(p); return {}; }
    throw new Error(method);
  };
  api.script(reply.toolUse([{ id: 'r', name: 'read_file', input: { path: 'f.txt' } }]), reply.text(['ok']));
  await c.request('session/message', { sessionId: s.id, content: 'read' });
  t.match(lastResult(api.requests.at(-1)!.body), `buffer of ${join(ws, 'f.txt')}`, 'the client\'s text');

  api.script(reply.toolUse([{ id: 'w', name: 'write_file', input: { path: 'f.txt', content: 'new' } }]), reply.text(['ok']));
  await c.request('session/message', { sessionId: s.id, content: 'write' });
  t.same(written, [{ sessionId: s.id, path: join(ws, 'f.txt'), content: 'new' }]);
  t.equal(readFileSync(join(ws, 'f.txt'), 'utf8'), 'disk', 'not on disk');

  for (const [bad, what] of [[{ nope: 1 }, 'no content'], [{ content: 42 }, 'content not a string']] as const) {
    answer = () => bad;
    api.script(reply.toolUse([{ id: 'b', name: 'read_file', input: { path: 'f.txt' } }]), reply.text(['ok']));
    await c.request('session/message', { sessionId: s.id, content: 'read' });
    t.match(lastResult(api.requests.at(-1)!.body), /"is_error":true/, `${what}: an error result`);
  }

  // An answer over the transport's message bound (limits.maxBodyBytes, 4 MiB) ends that connection;
  // the read fails as the client is gone, the turn goes on, and the session's files are the disk again.
  answer = () => ({ content: 'x'.repeat(5 * 1024 * 1024) });
  const closed = new Promise<void>((resolve) => c.ws.once('close', () => resolve()));
  api.script(reply.toolUse([{ id: 'big', name: 'read_file', input: { path: 'f.txt' } }]), reply.text(['ok']));
  const { turnId } = await c.request('session/message', { sessionId: s.id, content: 'read', async: true });
  await closed;
  const d = await WsClient.connect(http.wsUrl);
  t.teardown(() => d.close());
  await d.initialize({});
  await d.request('session/subscribe', { sessionId: s.id, since: 0 });
  await d.waitForEvent('turn.completed', (e) => e.data.turnId === turnId, 15_000);
  t.match(lastResult(api.requests.at(-1)!.body), /"is_error":true/, 'too large: the connection ended, the read is an error result');
  api.script(reply.toolUse([{ id: 'r2', name: 'read_file', input: { path: 'f.txt' } }]), reply.text(['ok']));
  await d.request('session/message', { sessionId: s.id, content: 'read' });
  t.match(lastResult(api.requests.at(-1)!.body), /disk/, 'the disk once the client is gone');
});
