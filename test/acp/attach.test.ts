// `agentd acp --url ws://…/rpc`: the ACP agent attached to a running server holds no state of its
// own; a WebSocket client of that server sees the editor's turn live and answers its approval.
import * as acp from '@agentclientprotocol/sdk';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { AgentClient, nodeWebSocketConnector, type TypedEvent } from '../../protocol/client/node.js';
import { until } from '../helpers/agent-client.js';
import { agentText, initialize, newSession, prompt, spawnAcp } from '../helpers/acp.js';
import { reply, startAnthropicServer } from '../helpers/anthropic-server.js';
import { spawnHttp, tempDir } from '../helpers/rpc-client.js';

t.test('--url: the turn is live on the server\'s other clients, and one of them answers the approval', async (t) => {
  const anthropic = await startAnthropicServer();
  t.teardown(() => anthropic.close());
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ defaultProvider: 'anthropic' }));
  const http = await spawnHttp({ dataDir, env: { ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_API_KEY: 'sk-test' } });
  t.teardown(() => http.stop());
  const ws = realpathSync(tempDir('agentd-acp-ws-'));

  const other = new AgentClient(nodeWebSocketConnector({ url: http.wsUrl }), { clientInfo: { name: 'page' } });
  const seen: TypedEvent[] = [];
  other.onEvent((e) => seen.push(e));
  other.onPermissionRequest(() => ({ decision: 'allow_once' }));
  await other.connect();
  await other.subscribe({});
  t.teardown(() => other.close());

  // No data dir of its own: the editor's ACP process only talks to the server.
  const h = spawnAcp(['--url', http.wsUrl], { env: { AGENTD_HOME: join(tempDir(), 'never-created') } });
  t.teardown(() => h.close());
  // The editor leaves approvals to the other client: it answers only once its request is withdrawn.
  h.onPermission = (_req, signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve({ outcome: { outcome: 'cancelled' } }), { once: true }));
  await initialize(h);
  const { sessionId } = await newSession(h, ws);

  anthropic.script(reply.toolUse([{ id: 'tu_w', name: 'write_file', input: { path: 'w.txt', content: 'from the page' } }]), reply.text(['done']));
  const r = await prompt(h, sessionId, 'write w');
  t.equal(r.stopReason, 'end_turn');
  t.equal(readFileSync(join(ws, 'w.txt'), 'utf8'), 'from the page', 'the page\'s allow_once let the write happen');
  t.equal(agentText(h.updates, sessionId), 'done');
  // Another connection: its events may trail the editor's answer.
  await until(() => seen.some((e) => e.sessionId === sessionId && e.type === 'turn.completed'), 10_000, 'turn.completed on the page');
  const mine = seen.filter((e) => e.sessionId === sessionId).map((e) => e.type);
  t.ok(mine.includes('session.created') || seen.some((e) => e.type === 'session.created'), 'the page saw the session created');
  for (const type of ['turn.started', 'tool.started', 'permission.requested', 'permission.resolved', 'tool.completed', 'turn.completed']) t.ok(mine.includes(type), `the page saw ${type} live`);
  const resolved = seen.find((e) => e.type === 'permission.resolved' && e.sessionId === sessionId)?.data as { by?: { clientName?: string } } | undefined;
  t.equal(resolved?.by?.clientName, 'page', 'the page answered');
  t.equal(h.permissions.length, 1, 'the editor was asked too (and withdrawn)');

  const listed = await other.listSessions();
  t.ok(listed.sessions.some((s) => s.id === sessionId && s.workspaceRoot === ws), 'the session lives on the server');
});

t.test('--url: usage errors and an unreachable server', async (t) => {
  const bad = spawnAcp(['--url', 'http://127.0.0.1:1']);
  t.equal(await new Promise((r) => bad.proc.on('exit', r)), 2, 'an http:// URL is a usage error');
  t.match(bad.stderr(), /--url must be a WebSocket URL/);
  const gone = spawnAcp(['--url', 'ws://127.0.0.1:1/rpc']);
  t.teardown(() => gone.close());
  try {
    await gone.agent.request(acp.methods.agent.initialize, { protocolVersion: 1 });
    t.fail('initialize succeeded');
  } catch (err) {
    t.ok(err, 'initialize fails when the server cannot be reached');
  }
});
