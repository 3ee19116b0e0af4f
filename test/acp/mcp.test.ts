// ACP session-level MCP servers: the `mcpServers` of session/new and session/load (a real server
// from npm, server-everything over stdio) are offered to that session only, and go with it.
import * as acp from '@agentclientprotocol/sdk';
import { realpathSync } from 'node:fs';
import t from 'tap';
import { anthropicAcp, initialize, newSession, prompt, rejectsWith, updatesOf } from '../helpers/acp.js';
import { reply, type Json } from '../helpers/anthropic-server.js';
import { EVERYTHING } from '../helpers/mcp.js';
import { tempDir } from '../helpers/rpc-client.js';

const everything = (name = 'every thing'): acp.McpServer => ({ name, command: process.execPath, args: [EVERYTHING, 'stdio'], env: [{ name: 'X_TEST', value: '1' }] });
const offered = (body: Json) => (body.tools as Json[]).map((x) => x.name as string);

t.test('session/new mcpServers: the tools reach that session only; session/load gives them again', async (t) => {
  const { anthropic, spawn } = await anthropicAcp(t);
  const h = spawn();
  const init = await initialize(h);
  t.match(init.agentCapabilities?.mcpCapabilities, { http: true, sse: true });
  const ws = realpathSync(tempDir('agentd-acp-ws-'));
  const { sessionId } = await newSession(h, ws, [everything()]);
  const other = await newSession(h, ws);

  // The name `every thing` is made a tool-name part: `every_thing`.
  anthropic.script(reply.toolUse([{ id: 'tu_m', name: 'mcp__every_thing__echo', input: { message: 'from acp' } }]), reply.text(['echoed']));
  const r = await prompt(h, sessionId, 'echo');
  t.equal(r.stopReason, 'end_turn');
  t.ok(offered(anthropic.requests.at(-2)!.body).includes('mcp__every_thing__echo'), 'the model of that session was offered the tool');
  const call = updatesOf(h, sessionId, 'tool_call').find((u) => u.toolCallId === 'tu_m');
  t.match(call, { title: 'echo (MCP every_thing)', kind: 'other' });
  const done = updatesOf(h, sessionId, 'tool_call_update').find((u) => u.toolCallId === 'tu_m' && u.status === 'completed');
  t.match(JSON.stringify(done), /Echo: from acp/, 'the session\'s server answered');

  // A resource_link to a resource the session's server lists is read from that server; another stays a link.
  const FEATURES = 'demo://resource/static/document/features.md';
  anthropic.script(reply.text(['read it']));
  await h.agent.request(acp.methods.agent.session.prompt, {
    sessionId, prompt: [{ type: 'text', text: 'see' }, { type: 'resource_link', name: 'features.md', uri: FEATURES }, { type: 'resource_link', name: 'x', uri: 'file:///nowhere/x.ts' }],
  });
  const sentText = JSON.stringify(anthropic.requests.at(-1)!.body.messages.at(-1).content);
  t.match(sentText, /Resource demo:\/\/resource\/static\/document\/features\.md/, 'the link became the server\'s resource');
  t.match(sentText, /Features/, 'with its contents');
  t.match(sentText, /\[x\]\(file:\/\/\/nowhere\/x\.ts\)/, 'an unknown URI stays a link');
  anthropic.script(reply.text(['link']));
  await h.agent.request(acp.methods.agent.session.prompt, { sessionId: other.sessionId, prompt: [{ type: 'resource_link', name: 'features.md', uri: FEATURES }] });
  t.match(JSON.stringify(anthropic.requests.at(-1)!.body.messages.at(-1).content), /\[features\.md\]\(demo:/, 'in another session the same URI is only a link');

  anthropic.script(reply.text(['plain']));
  await prompt(h, other.sessionId, 'hi');
  t.notOk(offered(anthropic.requests.at(-1)!.body).some((n) => n.startsWith('mcp__')), 'another session is not offered it');

  // Bad lists are refused before anything is made.
  for (const [bad, what] of [[[everything('a'), everything('a')], 'two servers of one name'], [Array.from({ length: 21 }, (_, i) => everything(`s${i}`)), 'more than 20']] as const) {
    await rejectsWith(t, newSession(h, ws, bad as acp.McpServer[]), -32602, what);
  }

  // A second editor process loads the session with the server again: the tool is back for it.
  await h.close();
  const h2 = spawn();
  await initialize(h2);
  await h2.agent.request(acp.methods.agent.session.load, { sessionId, cwd: ws, mcpServers: [everything()] });
  anthropic.script(reply.text(['again']));
  await prompt(h2, sessionId, 'again');
  t.ok(offered(anthropic.requests.at(-1)!.body).includes('mcp__every_thing__echo'), 'session/load connected them for the session');
});
