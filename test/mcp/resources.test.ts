// MCP resources and prompts with server-everything (stdio): listed, read, a resource reference in
// a message reaches the model (the scripted Anthropic server sees its text), a prompt run with
// arguments, a resources/list_changed refresh. Over stdio, WebSocket and REST; then a hostile
// server (huge contents, file:// URIs, a prompt that speaks as the assistant).
import { join } from 'node:path';
import t from 'tap';
import { reply, startAnthropicServer } from '../helpers/anthropic-server.js';
import { everythingStdio, writeConfig } from '../helpers/mcp.js';
import { ROOT, spawnHttp, tempDir, type Json } from '../helpers/rpc-client.js';
import { open, RPC_TRANSPORTS } from '../helpers/transports.js';

const HOSTILE = join(ROOT, 'test', 'fixtures', 'hostile-mcp.mjs');
const TEXT2 = 'demo://resource/dynamic/text/2';
const userText = (body: Json) => body.messages.filter((m: Json) => m.role === 'user').at(-1).content.map((c: Json) => c.text ?? '').join('');

for (const transport of RPC_TRANSPORTS) {
  t.test(`MCP resources and prompts over ${transport}`, async (t) => {
    const api = await startAnthropicServer();
    t.teardown(() => api.close());
    const dataDir = tempDir();
    writeConfig(dataDir, {
      mcpServers: { everything: everythingStdio({ autoConnect: true }), off: everythingStdio() },
      approvals: { rules: [{ tool: 'mcp__*', action: 'allow' }] },
    });
    const o = await open(transport, { dataDir, env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'sk-ant-test' } });
    t.teardown(o.close);
    const { client } = o;
    await client.initialize({});
    await client.request('session/subscribe', { since: 0 });
    await client.waitFor(() => client.events().find((e) => e.type === 'mcp.status' && e.data.server.name === 'everything' && e.data.server.status === 'connected'), 15_000, 'connected');

    const all = await client.request('mcp/resources', {});
    t.ok(all.resources.some((r: Json) => r.server === 'everything' && r.uri.startsWith('demo://resource/static/document/')), 'static resources listed');
    t.ok(all.resourceTemplates.some((r: Json) => r.server === 'everything' && r.uriTemplate === 'demo://resource/dynamic/text/{resourceId}'), 'templates listed');
    t.same(await client.request('mcp/resources', { name: 'everything' }), all, 'one server: the same (only one is connected)');
    t.match((await client.call('mcp/resources', { name: 'nope' })).error, { code: -32010 });
    t.match((await client.call('mcp/resources', { name: 'off' })).error, { code: -32024, data: { server: 'off' } }, 'a server that is not connected');

    const read = await client.request('mcp/resource/read', { name: 'everything', uri: TEXT2 });
    t.match(read, { server: 'everything', uri: TEXT2, contents: [{ uri: TEXT2, mimeType: 'text/plain', text: /^Resource 2/ }] });
    t.notOk('truncated' in read);
    const passwd = await client.call('mcp/resource/read', { name: 'everything', uri: 'file:///etc/passwd' });
    t.match(passwd.error, { code: -32024, data: { server: 'everything' } }, 'the MCP server refuses a URI it does not serve');
    t.notMatch(JSON.stringify(passwd), /root:x:0/, 'agentd never reads file:// URIs itself');

    const prompts = (await client.request('mcp/prompts', {})).prompts;
    t.match(prompts.find((p: Json) => p.name === 'args-prompt'), {
      server: 'everything', command: '/everything:args-prompt', arguments: [{ name: 'city', required: true }, { name: 'state', required: false }],
    });

    // A resource reference goes to the model as text headed by its URI.
    const s = await client.request('session/create', { provider: 'anthropic', workspaceRoot: tempDir('agentd-ws-') });
    api.script(reply.text(['ok']), reply.text(['sunny']));
    await client.request('session/message', { sessionId: s.id, content: [{ type: 'text', text: 'Summarize this:' }, { type: 'resource', server: 'everything', uri: TEXT2 }] });
    const sent = userText(api.requests[0].body);
    t.match(sent, /^Summarize this:Resource demo:\/\/resource\/dynamic\/text\/2 \(text\/plain\):\nResource 2/, 'the model sees the resource text');
    const stored = (await client.request('session/get', { sessionId: s.id })).messages[0];
    t.match(stored.content[1], { type: 'text', text: /^Resource demo:\/\/resource\/dynamic\/text\/2/ }, 'stored as text');

    // A prompt with arguments, run as the user's message.
    await client.request('session/message', { sessionId: s.id, prompt: { server: 'everything', name: 'args-prompt', arguments: { city: 'Paris' } } });
    t.equal(userText(api.requests[1].body), "What's weather in Paris?");
    const missing = await client.call('session/message', { sessionId: s.id, prompt: { server: 'everything', name: 'args-prompt', arguments: {} } });
    t.match(missing.error, { code: -32024, data: { server: 'everything' } }, 'a missing required argument: the server refuses');
    t.match((await client.call('session/message', { sessionId: s.id })).error, { code: -32602 }, 'neither content nor prompt');
    t.match((await client.call('session/message', { sessionId: s.id, prompt: { server: 'nope', name: 'x' } })).error, { code: -32010 });
    t.equal(api.pending(), 0);

    // list_changed: a tool that registers a session resource; agentd refreshes and says so.
    const echo = await client.request('session/create', { name: 'echo' });
    const before = client.events().length;
    await client.request('session/message', { sessionId: echo.id, content: '/tool mcp__everything__gzip-file-as-resource {"name":"note.gz","data":"data:text/plain,hello"}' });
    await client.waitFor(() => client.events().slice(before).find((e) => e.type === 'mcp.status' && e.data.server.name === 'everything'), 15_000, 'mcp.status after list_changed');
    const after = await client.waitFor(async () => {
      const r = (await client.request('mcp/resources', {})).resources;
      return r.find((x: Json) => x.uri === 'demo://resource/session/note.gz');
    }, 15_000, 'the new resource');
    t.match(after, { server: 'everything', name: 'note.gz', mimeType: 'application/gzip' });
  });
}

t.test('MCP resources and prompts over REST', async (t) => {
  const dataDir = tempDir();
  writeConfig(dataDir, { mcpServers: { everything: everythingStdio({ autoConnect: true }) } });
  const server = await spawnHttp({ dataDir });
  t.teardown(() => server.stop());
  const get = async (path: string) => { const r = await fetch(`${server.url}${path}`); return { status: r.status, body: await r.json() as Json }; };
  await fetch(`${server.url}/v1/mcp/everything/connect`, { method: 'POST' });
  const res = await get('/v1/mcp/resources?name=everything');
  t.equal(res.status, 200);
  t.ok(res.body.resources.length > 0 && res.body.resourceTemplates.length > 0);
  const read = await get(`/v1/mcp/everything/resource?uri=${encodeURIComponent(TEXT2)}`);
  t.match(read, { status: 200, body: { contents: [{ text: /^Resource 2/ }] } });
  t.match(await get('/v1/mcp/nope/resource?uri=x'), { status: 404 });
  t.match(await get('/v1/mcp/prompts'), { status: 200, body: { prompts: [{ server: 'everything' }] } });
  const s = await (await fetch(`${server.url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json() as Json;
  const m = await fetch(`${server.url}/v1/session/${s.id}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: { server: 'everything', name: 'simple-prompt' } }) });
  t.equal(m.status, 200);
  const msgs = (await get(`/v1/session/${s.id}`)).body.messages;
  t.match(msgs[0], { role: 'user', content: [{ type: 'text', text: /simple prompt/i }] }, 'the prompt became the user message');
});

t.test('a hostile MCP server: bounded contents, no role injection', async (t) => {
  const dataDir = tempDir();
  writeConfig(dataDir, { mcpServers: { hostile: { command: process.execPath, args: [HOSTILE], autoConnect: true } } });
  const o = await open('stdio', { dataDir });
  t.teardown(o.close);
  const { client } = o;
  await client.initialize({});
  t.match((await client.request('mcp/connect', { name: 'hostile' })).server, { status: 'connected' });
  const MiB = 1 << 20;

  const huge = await client.request('mcp/resource/read', { name: 'hostile', uri: 'huge://text' });
  t.equal(huge.truncated, true);
  t.equal(huge.contents[0].text.length, MiB, 'cut at 1 MiB');
  const blob = await client.request('mcp/resource/read', { name: 'hostile', uri: 'huge://blob' });
  t.match(blob, { truncated: true, contents: [] }, 'a blob over the bound is dropped whole, never cut');
  const passwd = await client.request('mcp/resource/read', { name: 'hostile', uri: 'file:///etc/passwd' });
  t.equal(passwd.contents[0].text, 'served by the MCP server, not read by agentd');

  const s = await client.request('session/create', { name: 'h' });
  await client.request('session/message', { sessionId: s.id, content: [{ type: 'resource', server: 'hostile', uri: 'huge://text' }, { type: 'text', text: 'after' }] });
  let msgs = (await client.request('session/get', { sessionId: s.id })).messages;
  const chars = msgs[0].content.reduce((n: number, c: Json) => n + (c.text?.length ?? 0), 0);
  t.ok(chars <= MiB + 200, `a message's MCP content is bounded (${chars} chars)`);
  t.match(msgs[0].content.at(-1).text, /truncated/);

  await client.request('session/message', { sessionId: s.id, prompt: { server: 'hostile', name: 'inject', arguments: { target: 'x' } } });
  msgs = (await client.request('session/get', { sessionId: s.id })).messages;
  const last = msgs.filter((m: Json) => m.role === 'user').at(-1);
  t.same(msgs.map((m: Json) => m.role), ['user', 'assistant', 'user', 'assistant'], 'a prompt never adds an assistant message');
  t.match(last.content[1].text, /^\[assistant message of MCP prompt hostile:inject\]\nI have already decided/, 'the prompt\'s assistant text is labelled, as the user\'s');

  await client.request('session/message', { sessionId: s.id, prompt: { server: 'hostile', name: 'huge' } });
  msgs = (await client.request('session/get', { sessionId: s.id })).messages;
  t.ok(msgs.filter((m: Json) => m.role === 'user').at(-1).content[0].text.length <= MiB + 200, 'a huge prompt is cut');

  const many = Array.from({ length: 21 }, () => ({ type: 'resource', server: 'hostile', uri: 'file:///etc/passwd' }));
  t.match((await client.call('session/message', { sessionId: s.id, content: many })).error, { code: -32602, data: { field: 'content' } }, 'at most 20 resource references');
  t.match((await client.call('session/message', { sessionId: s.id, content: [{ type: 'resource', server: 'hostile', uri: '' }] })).error, { code: -32602 });
  t.match((await client.call('mcp/resource/read', { name: 'hostile', uri: 'x'.repeat(9000) })).error, { code: -32602 });
});
