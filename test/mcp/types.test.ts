// MCP server entries in the shape of Claude Code's .mcp.json / VS Code's mcp.json: `type` stdio,
// http and sse (the older HTTP+SSE transport, through the SDK's SSEClientTransport), against the
// real server-everything in each mode.
import t from 'tap';
import { everythingHttp, everythingStdio, writeConfig } from '../helpers/mcp.js';
import { tempDir, type Json } from '../helpers/rpc-client.js';
import { open } from '../helpers/transports.js';

t.test('type stdio | http | sse: each connects and its tools are called', async (t) => {
  const web = await everythingHttp();
  t.teardown(web.stop);
  const old = await everythingHttp('sse');
  t.teardown(old.stop);
  const dataDir = tempDir();
  writeConfig(dataDir, {
    approvals: { rules: [{ tool: 'mcp__*', action: 'allow' }] },
    mcpServers: {
      local: { type: 'stdio', ...everythingStdio() },
      web: { type: 'http', url: web.url },
      legacy: { type: 'sse', url: old.url, headers: { 'X-Test': '1' } },
    },
  });
  const o = await open('stdio', { dataDir });
  t.teardown(o.close);
  const c = o.client;
  await c.initialize();
  const s = await c.request('session/create', { name: 'mcp-types' });
  for (const [name, transport] of [['local', 'stdio'], ['web', 'http'], ['legacy', 'sse']]) {
    const server = (await c.request('mcp/connect', { name })).server;
    t.match(server, { name, transport, status: 'connected' }, `${name} connected over ${transport}`);
    const r = await c.request('session/message', { sessionId: s.id, content: `/tool mcp__${name}__echo {"message":"via ${name}"}` });
    t.equal(r.content.map((x: Json) => x.text ?? '').join(''), `Tool result: Echo: via ${name}`);
  }
  // A type that contradicts the entry is named.
  const bad = await c.call('config/update', { config: { mcpServers: { x: { type: 'sse', command: 'node' } } } });
  t.equal(bad.error?.code, -32602);
  t.equal(bad.error?.data?.field, 'config.mcpServers.x.type');
  const unknown = await c.call('config/update', { config: { mcpServers: { x: { type: 'websocket', url: 'http://127.0.0.1:1/' } } } });
  t.equal(unknown.error?.code, -32602);
});
