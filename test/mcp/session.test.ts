// session/mcp: a session's own MCP servers (server-everything over stdio, a real one from npm):
// connected at once, their tools in that session's tool/list and callable by its model only,
// resources listed with sessionId and readable in a message; closed with the connection that
// gave them, by `{}` and with the session. Bad input: unknown session, bad names, a failing server.
import { realpathSync } from 'node:fs';
import t from 'tap';
import { reply, startAnthropicServer } from '../helpers/anthropic-server.js';
import { childPids, everythingStdio, writeConfig } from '../helpers/mcp.js';
import { spawnHttp, tempDir, WsClient, type Json } from '../helpers/rpc-client.js';

const names = (r: Json) => (r.tools as Json[]).map((x) => x.name);

t.test('session/mcp: tools for that session only, closed with the connection, {} and delete', async (t) => {
  const api = await startAnthropicServer();
  t.teardown(() => api.close());
  const dataDir = tempDir();
  writeConfig(dataDir, { defaultProvider: 'anthropic', approvals: { rules: [{ tool: 'mcp__*', action: 'allow' }] } });
  const http = await spawnHttp({ dataDir, env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'sk-ant-test' } });
  t.teardown(() => http.stop());
  const a = await WsClient.connect(http.wsUrl);
  await a.initialize({});
  const ws = realpathSync(tempDir('agentd-ws-'));
  const s1 = await a.request('session/create', { workspaceRoot: ws });
  const s2 = await a.request('session/create', { workspaceRoot: ws });

  const set = await a.request('session/mcp', { sessionId: s1.id, servers: { ev: everythingStdio() } });
  t.equal(set.servers.length, 1);
  t.match(set.servers[0], { name: 'ev', transport: 'stdio', status: 'connected', sessionId: s1.id });
  t.ok(set.servers[0].tools.some((x: Json) => x.name === 'mcp__ev__echo'), 'the answer comes once connected, with the tools');
  t.ok(names(await a.request('tool/list', { sessionId: s1.id })).includes('mcp__ev__echo'), 'in the session\'s tool/list');
  t.notOk(names(await a.request('tool/list', { sessionId: s2.id })).includes('mcp__ev__echo'), 'not in another session\'s');
  t.notOk(names(await a.request('tool/list', {})).includes('mcp__ev__echo'), 'not in the server-wide list');
  t.same((await a.request('mcp/list', {})).servers, [], 'not a configured server');

  // The model of s1 calls the tool; s2's model is not offered it, and a call there is unknown.
  api.script(reply.toolUse([{ id: 'tu_1', name: 'mcp__ev__echo', input: { message: 'hi' } }]), reply.text(['done']));
  await a.request('session/message', { sessionId: s1.id, content: 'echo' });
  const sent = api.requests.at(-1)!.body;
  const result = sent.messages.at(-1).content.find((c: Json) => c.type === 'tool_result');
  t.match(JSON.stringify(result.content), /Echo: hi/, 'the session\'s own server answered the call');
  t.ok(api.requests.at(-2)!.body.tools.some((x: Json) => x.name === 'mcp__ev__echo'), 's1\'s model was offered the tool');
  api.script(reply.toolUse([{ id: 'tu_2', name: 'mcp__ev__echo', input: { message: 'hi' } }]), reply.text(['nope']));
  await a.request('session/message', { sessionId: s2.id, content: 'echo' });
  t.notOk(api.requests.at(-2)!.body.tools.some((x: Json) => x.name === 'mcp__ev__echo'), 's2\'s model was not offered it');
  t.match(JSON.stringify(api.requests.at(-1)!.body.messages.at(-1).content), /Unknown tool: mcp__ev__echo/, 'a call from s2 does not reach it');

  // Resources: listed with sessionId, a reference in a message is read from the session's server.
  t.notOk((await a.request('mcp/resources', {})).resources.length, 'no resources without sessionId');
  const res = await a.request('mcp/resources', { sessionId: s1.id });
  const uri = res.resources.find((r: Json) => r.server === 'ev')?.uri;
  t.ok(uri, 'the session server\'s resources');
  const read = await a.request('mcp/resource/read', { name: 'ev', uri, sessionId: s1.id });
  t.match(read, { server: 'ev', contents: [{ uri, text: /\S/ }] });
  t.match((await a.call('mcp/resource/read', { name: 'ev', uri })).error, { code: -32010 }, 'without sessionId: not found');
  api.script(reply.text(['read']));
  await a.request('session/message', { sessionId: s1.id, content: [{ type: 'text', text: 'see' }, { type: 'resource', server: 'ev', uri }] });
  t.ok(JSON.stringify(api.requests.at(-1)!.body.messages.at(-1).content).includes(JSON.stringify(read.contents[0].text.slice(0, 40)).slice(1, -1)), 'the resource was read into the message');
  t.match((await a.call('session/message', { sessionId: s2.id, content: [{ type: 'resource', server: 'ev', uri }] })).error, { code: -32010 }, 'another session cannot read it');

  // Bad input.
  t.match((await a.call('session/mcp', { sessionId: 'ses_nope', servers: {} })).error, { code: -32010 });
  t.match((await a.call('session/mcp', { sessionId: s1.id, servers: { 'a b': everythingStdio() } })).error, { code: -32602 }, 'a bad name');
  const many = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`s${i}`, everythingStdio()]));
  t.match((await a.call('session/mcp', { sessionId: s1.id, servers: many })).error, { code: -32602 }, 'more than 20');
  const bad = await a.request('session/mcp', { sessionId: s2.id, servers: { gone: { command: '/nonexistent/mcp' } } });
  t.match(bad.servers[0], { name: 'gone', status: 'failed' }, 'a server that cannot start: failed, not an error');

  // Closing the connection closes its servers (their processes end).
  const serverPid = http.proc.pid!;
  t.equal(childPids(serverPid, 'index.js').length, 1, 'one server-everything process');
  await a.close();
  const b = await WsClient.connect(http.wsUrl);
  t.teardown(() => b.close());
  await b.initialize({});
  await b.waitFor(() => childPids(serverPid, 'index.js').length === 0, 10_000, 'the process ended');
  t.notOk(names(await b.request('tool/list', { sessionId: s1.id })).includes('mcp__ev__echo'), 'gone with the connection');

  // `{}` removes them; deleting the session closes them.
  await b.request('session/mcp', { sessionId: s1.id, servers: { ev: everythingStdio() } });
  t.same(await b.request('session/mcp', { sessionId: s1.id, servers: {} }), { servers: [] });
  t.notOk(names(await b.request('tool/list', { sessionId: s1.id })).includes('mcp__ev__echo'), '{} removed them');
  await b.request('session/mcp', { sessionId: s1.id, servers: { ev: everythingStdio() } });
  await b.request('session/delete', { sessionId: s1.id });
  await b.waitFor(() => childPids(serverPid, 'index.js').length === 0, 10_000, 'deleted: the process ended');
});
