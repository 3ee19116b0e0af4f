// MCP servers over stdio, WebSocket and REST + SSE: configure (config/update), list, connect
// (stdio server-everything and server-filesystem, Streamable HTTP server-everything), call their
// tools through the scripted model, disconnect, errors, mcp.updated. Transcripts agree.
// The scenario lives here so that test/conformance/mcp.test.ts runs it on SQLite and
// test/conformance/postgres.test.ts on PostgreSQL (one node, and two nodes on one database).
import { join } from 'node:path';
import type { Scenario } from '../conformance.js';
import type { Outcome } from '../driver.js';
import { everythingStdio, FILESYSTEM } from '../mcp.js';
import type { Json } from '../rpc-client.js';

export const mcp = (web: { url: string }, files: string): Scenario => async (d, rec, t) => {
  await d.initialize();
  const expectError = (out: Outcome, code: number, status: number, what: string) => {
    t.equal(out.error?.code, code, `${what}: code ${code}`);
    if (d.transport === 'rest') t.equal(out.status, status, `${what}: HTTP ${status}`);
  };
  await d.subscribe(null);
  await rec.call('configure', 'config/update', {
    config: {
      mcpServers: {
        everything: everythingStdio(),
        fs: { command: process.execPath, args: [FILESYSTEM, files] },
        web: { url: web.url, headers: { 'X-Token': 'secret' } },
      },
      approvals: { rules: [{ tool: 'mcp__*', action: 'allow' }] },
    },
  });
  await rec.call('list before', 'mcp/list', {});
  for (const name of ['everything', 'fs', 'web']) {
    const r = await rec.call(`connect ${name}`, 'mcp/connect', { name });
    t.equal(r.result?.server.status, 'connected', `${name} connected`);
  }
  const tools = (await d.request('tool/list', {})).tools.map((x: Json) => x.name);
  t.ok(tools.includes('mcp__fs__read_text_file') && tools.includes('mcp__web__echo'));
  rec.note('tool names', tools.sort());

  const s = await d.request('session/create', { name: 'mcp' });
  await d.subscribe(s.id, s.lastSeq);
  const say = async (step: string, tool: string, input: Json) => {
    const r = await rec.call(step, 'session/message', { sessionId: s.id, content: `/tool ${tool} ${JSON.stringify(input)}` });
    return r.result.content.map((c: Json) => c.text ?? '').join('');
  };
  t.equal(await say('echo over stdio', 'mcp__everything__echo', { message: 'hi' }), 'Tool result: Echo: hi');
  t.equal(await say('echo over http', 'mcp__web__echo', { message: 'hi' }), 'Tool result: Echo: hi');
  t.equal(await say('read a file', 'mcp__fs__read_text_file', { path: join(files, 'note.txt') }), 'Tool result: a note\n');
  t.match(await say('bad arguments', 'mcp__everything__get-sum', { a: 'x' }), /^Tool error: /);
  await say('an image', 'mcp__everything__get-tiny-image', {});
  await d.waitForEvent(s.id, 'tool.completed', (e) => e.data.tool === 'mcp__everything__get-tiny-image');
  const image = d.events(s.id).find((e) => e.type === 'tool.completed' && e.data.tool === 'mcp__everything__get-tiny-image');
  rec.note('image result parts', image.data.result.content.map((c: Json) => (c.type === 'image' ? { type: c.type, mediaType: c.mediaType } : c)));

  const off = await rec.call('disconnect web', 'mcp/disconnect', { name: 'web' });
  t.match(off.result?.server, { status: 'disconnected', tools: [] });
  t.equal(await say('disconnected tool', 'mcp__web__echo', { message: 'x' }), 'Tool error: Unknown tool: mcp__web__echo');
  expectError(await rec.call('connect unknown', 'mcp/connect', { name: 'nope' }), -32010, 404, 'unknown server');
  await d.waitForEvent(null, 'mcp.updated', (e) => e.data.server.name === 'web' && e.data.server.status === 'disconnected');
  rec.note('mcp.updated', d.events(null).filter((e) => e.type === 'mcp.updated').map((e) => `${e.data.server.name} ${e.data.server.status}`));
  rec.note('config as returned', (await d.request('config/get', {})).config.mcpServers.web);
};
