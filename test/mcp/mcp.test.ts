// MCP servers as tool sources, over each JSON-RPC transport, with real servers from npm:
// server-everything over stdio and Streamable HTTP, server-filesystem over stdio. Connect, list,
// call through the scripted (echo) model, convert results, disconnect, crash and hang.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { childPids, EVERYTHING, everythingHttp, everythingStdio, FILESYSTEM, writeConfig } from '../helpers/mcp.js';
import { tempDir, type Json, type RpcClient } from '../helpers/rpc-client.js';
import { open, RPC_TRANSPORTS, type RpcTransport } from '../helpers/transports.js';

const allowMcp = { rules: [{ tool: 'mcp__*', action: 'allow' }] };
const text = (m: Json) => m.content.map((c: Json) => c.text ?? '').join('');

async function start(t: Test, transport: RpcTransport, mcpServers: Json) {
  const dataDir = tempDir();
  writeConfig(dataDir, { mcpServers, approvals: allowMcp });
  const o = await open(transport, { dataDir });
  t.teardown(o.close);
  await o.client.initialize({});
  await o.client.request('session/subscribe', { since: 0 }); // replays mcp.updated from start-up
  const s = await o.client.request('session/create', { name: 'mcp' });
  return { ...o, sid: s.id as string };
}

const ask = (client: RpcClient, sid: string, tool: string, input: Json) =>
  client.request('session/message', { sessionId: sid, content: `/tool ${tool} ${JSON.stringify(input)}` });

const lastToolEvent = (client: RpcClient, tool: string) =>
  client.events().filter((e) => (e.type === 'tool.completed' || e.type === 'tool.failed') && e.data.tool === tool).at(-1);

for (const transport of RPC_TRANSPORTS) {
  t.test(`stdio and Streamable HTTP servers, tools and results over ${transport}`, async (t) => {
    const web = await everythingHttp();
    t.teardown(web.stop);
    const files = tempDir('agentd-mcp-fs-');
    mkdirSync(join(files, 'sub'));
    writeFileSync(join(files, 'sub', 'hello.txt'), 'hello from fs\n');
    const { client, sid } = await start(t, transport, {
      everything: everythingStdio({ autoConnect: true }),
      web: { url: web.url, headers: { 'X-Test': 'secret-header' } },
      fs: { command: process.execPath, args: [FILESYSTEM, files] },
      broken: { command: join(files, 'no-such-binary'), autoConnect: true, timeoutMs: 5000 },
    });

    const ev = (await client.request('mcp/connect', { name: 'everything' })).server;
    t.match(ev, { name: 'everything', transport: 'stdio', status: 'connected', serverInfo: { name: 'mcp-servers/everything' } });
    const echo = ev.tools.find((x: Json) => x.name === 'mcp__everything__echo');
    t.match(echo, { source: { type: 'mcp', server: 'everything' }, inputSchema: { type: 'object', properties: { message: { type: 'string' } } } });
    t.notOk('readOnly' in echo, 'MCP tools are never marked read-only');

    const listed = await client.waitFor(() => client.events().find((e) => e.type === 'mcp.updated' && e.data.server.name === 'broken' && e.data.server.status === 'failed'), 10_000, 'broken server failed');
    t.match(listed.data.server.error, /connect failed/);
    const list = (await client.request('mcp/list', {})).servers;
    t.same(list.map((x: Json) => [x.name, x.status]).sort(), [['broken', 'failed'], ['everything', 'connected'], ['fs', 'disconnected'], ['web', 'disconnected']]);
    t.same(list.find((x: Json) => x.name === 'fs').tools, [], 'a disconnected server lists no tools');

    t.match((await client.request('mcp/connect', { name: 'fs' })).server, { status: 'connected', transport: 'stdio' });
    const w = (await client.request('mcp/connect', { name: 'web' })).server;
    t.match(w, { status: 'connected', transport: 'http' });
    t.ok(w.tools.some((x: Json) => x.name === 'mcp__web__echo'));
    const all = (await client.request('tool/list', { sessionId: sid })).tools.map((x: Json) => x.name);
    t.ok(all.includes('mcp__fs__read_text_file') && all.includes('mcp__web__get-sum') && all.includes('mcp__everything__echo'), 'tool/list has every connected server\'s tools');

    t.equal(text(await ask(client, sid, 'mcp__everything__echo', { message: 'hi' })), 'Tool result: Echo: hi');
    t.equal(text(await ask(client, sid, 'mcp__web__echo', { message: 'over http' })), 'Tool result: Echo: over http');
    t.equal(text(await ask(client, sid, 'mcp__fs__read_text_file', { path: join(files, 'sub', 'hello.txt') })), 'Tool result: hello from fs\n');
    t.match(lastToolEvent(client, 'mcp__fs__read_text_file'), { type: 'tool.completed', data: { result: { content: [{ type: 'text', text: 'hello from fs\n' }] } } });

    // An image result stays an image.
    const img = await ask(client, sid, 'mcp__everything__get-tiny-image', {});
    t.match(text(img), /Tool result: Here's the image you requested:\[image\]/);
    const imgResult = lastToolEvent(client, 'mcp__everything__get-tiny-image').data.result;
    t.match(imgResult.content[1], { type: 'image', mediaType: 'image/png' });
    t.ok(Buffer.from(imgResult.content[1].data, 'base64').subarray(1, 4).toString() === 'PNG', 'the PNG bytes arrive intact');

    // An embedded text resource becomes text headed by its URI; a resource link a line of text.
    await ask(client, sid, 'mcp__everything__get-resource-reference', { resourceId: 2 });
    const res = lastToolEvent(client, 'mcp__everything__get-resource-reference').data.result;
    t.match(res.content[1], { type: 'text', text: /^Resource demo:\/\/resource\/dynamic\/text\/2 \(text\/plain\):\nResource 2/ });
    await ask(client, sid, 'mcp__everything__get-resource-links', { count: 1 });
    t.match(lastToolEvent(client, 'mcp__everything__get-resource-links').data.result.content[1].text, /^\[resource link demo:\/\/resource\/\S+ "[^"]+" \(text\/plain\)/);

    // isError from the server is a tool error for the model.
    const bad = await ask(client, sid, 'mcp__everything__get-sum', { a: 'x' });
    t.match(text(bad), /^Tool error: .*Input validation error/);
    t.match(lastToolEvent(client, 'mcp__everything__get-sum'), { type: 'tool.failed', data: { result: { isError: true } } });

    // Disconnect: status, event, and the tools are gone.
    const off = (await client.request('mcp/disconnect', { name: 'web' })).server;
    t.match(off, { status: 'disconnected', tools: [] });
    await client.waitForEvent('mcp.updated', (e) => e.data.server.name === 'web' && e.data.server.status === 'disconnected');
    t.notOk((await client.request('tool/list', {})).tools.some((x: Json) => x.name.startsWith('mcp__web__')));
    t.equal(text(await ask(client, sid, 'mcp__web__echo', { message: 'x' })), 'Tool error: Unknown tool: mcp__web__echo');

    const unknown = await client.call('mcp/connect', { name: 'nope' });
    t.equal(unknown.error?.code, -32010);
    t.same(unknown.error?.data, { kind: 'mcp server', id: 'nope' });
  });

  t.test(`a server killed mid-call fails the call and is marked failed; reconnect works over ${transport}`, async (t) => {
    const { client, sid, pid } = await start(t, transport, { everything: everythingStdio({ autoConnect: true }) });
    await client.request('mcp/connect', { name: 'everything' });
    const [child] = childPids(pid, EVERYTHING);
    t.ok(child, 'the MCP server runs as a child of agentd');
    await client.request('session/message', { sessionId: sid, content: '/tool mcp__everything__trigger-long-running-operation {"duration":30,"steps":30}', async: true });
    await client.waitForEvent('tool.started');
    process.kill(child, 'SIGKILL');
    const failed = await client.waitForEvent('tool.failed', () => true, 10_000);
    t.match(failed.data.result.content[0].text, /failed: .*Connection closed/);
    const status = await client.waitForEvent('mcp.updated', (e) => e.data.server.status === 'failed', 10_000);
    t.match(status.data.server, { name: 'everything', status: 'failed', error: /connection closed/, tools: [] });
    const done = await client.waitForEvent('turn.completed');
    t.ok(done, 'the turn goes on');
    t.same((await client.request('session/list', {})).sessions.length, 1, 'agentd still answers');

    const again = (await client.request('mcp/connect', { name: 'everything' })).server;
    t.equal(again.status, 'connected');
    t.not(childPids(pid, EVERYTHING)[0], child, 'a fresh process');
    t.equal(text(await ask(client, sid, 'mcp__everything__echo', { message: 'back' })), 'Tool result: Echo: back');
  });

  t.test(`a hung server times out, is marked failed, and reconnects over ${transport}`, async (t) => {
    const { client, sid, pid } = await start(t, transport, { everything: everythingStdio({ autoConnect: true, timeoutMs: 1000 }) });
    await client.request('mcp/connect', { name: 'everything' });
    const [child] = childPids(pid, EVERYTHING);
    process.kill(child, 'SIGSTOP');
    t.teardown(() => { try { process.kill(child, 'SIGKILL'); } catch { /* gone */ } });
    const r = await ask(client, sid, 'mcp__everything__echo', { message: 'anyone?' });
    t.equal(text(r), 'Tool error: MCP server everything did not answer mcp__everything__echo within 1000 ms.');
    const status = await client.waitForEvent('mcp.updated', (e) => e.data.server.status === 'failed', 10_000);
    t.match(status.data.server.error, /stopped responding/);
    process.kill(child, 'SIGKILL');
    t.equal((await client.request('mcp/connect', { name: 'everything' })).server.status, 'connected');
    t.equal(text(await ask(client, sid, 'mcp__everything__echo', { message: 'awake' })), 'Tool result: Echo: awake');
  });
}
