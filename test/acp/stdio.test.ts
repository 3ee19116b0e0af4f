// `agentd acp` driven by the official ACP SDK's client side over a spawned process: initialize,
// echo prompts, a scripted Anthropic turn with tool calls and approvals, cancel, session/load,
// list, close, modes and the model option, auth-required, and the sessions seen over /v1.
import * as acp from '@agentclientprotocol/sdk';
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { agentText, anthropicAcp, initialize as init, newSession, prompt, rejectsWith as rejects, spawnAcp, updatesOf } from '../helpers/acp.js';
import { reply } from '../helpers/anthropic-server.js';
import { spawnHttp, tempDir } from '../helpers/rpc-client.js';

t.test('initialize: protocol 1, capabilities, agentInfo and the terminal auth method', async (t) => {
  const dataDir = tempDir();
  const h = spawnAcp(['--data-dir', dataDir]);
  t.teardown(() => h.close());
  const r = await init(h);
  t.equal(r.protocolVersion, 1);
  t.match(r.agentCapabilities, {
    loadSession: true, promptCapabilities: { image: true, embeddedContext: true }, mcpCapabilities: { http: true }, sessionCapabilities: { list: {}, close: {} },
  });
  t.equal(r.agentInfo?.name, 'agentd');
  t.type(r.agentInfo?.version, 'string');
  t.same(r.authMethods, [{ type: 'terminal', id: 'agentd-auth-login', name: 'Log in with an API key', description: 'Runs `agentd auth login`: choose a provider and paste its API key', args: ['auth', 'login', '--data-dir', dataDir] }]);
  t.same(await h.agent.request(acp.methods.agent.authenticate, { methodId: 'agentd-auth-login' }), {});
});

t.test('echo prompt: chunks then end_turn; the session is an agentd session seen over /v1; list with cwd, close', async (t) => {
  const dataDir = tempDir();
  const ws = realpathSync(tempDir('agentd-acp-ws-'));
  const other = realpathSync(tempDir('agentd-acp-ws2-'));
  const h = spawnAcp(['--data-dir', dataDir]);
  t.teardown(() => h.close());
  await init(h);
  const s = await newSession(h, ws);
  t.match(s.sessionId, /^ses_/);
  t.equal(s.modes?.currentModeId, 'default');
  t.same(s.modes?.availableModes.map((m) => m.id), ['default', 'acceptEdits', 'readOnly']);
  const model = s.configOptions?.find((o) => o.id === 'model') as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  t.equal(model.currentValue, 'echo');
  t.ok(model.options.some((o: { value: string }) => o.value === 'echo-slow'), 'the provider\'s models are the options');

  const r = await prompt(h, s.sessionId, 'hello editor');
  t.equal(r.stopReason, 'end_turn');
  t.equal(agentText(h.updates, s.sessionId), 'Echo: hello editor');
  t.ok(updatesOf(h, s.sessionId, 'usage_update').length >= 1, 'usage.updated became usage_update');
  t.ok(h.updates.findIndex((u) => u.update.sessionUpdate === 'agent_message_chunk') < h.updates.length, 'chunks before the answer');

  const set = await h.agent.request(acp.methods.agent.session.setConfigOption, { sessionId: s.sessionId, configId: 'model', value: 'echo-slow' });
  t.equal((set.configOptions[0] as { currentValue: string }).currentValue, 'echo-slow', 'set_config_option changed the model');
  await rejects(t, h.agent.request(acp.methods.agent.session.setConfigOption, { sessionId: s.sessionId, configId: 'model', value: 'no-such-model' }), -32602, 'an unknown model is invalid params');
  await rejects(t, h.agent.request(acp.methods.agent.session.setConfigOption, { sessionId: s.sessionId, configId: 'nope', value: 'x' }), -32602, 'an unknown option is invalid params');

  const s2 = await newSession(h, other);
  const http = await spawnHttp({ dataDir });
  t.teardown(() => http.stop());
  const listed = await (await fetch(`${http.url}/v1/session`)).json() as { sessions: Array<{ id: string; workspaceRoot: string; model: string }> };
  const mine = listed.sessions.find((x) => x.id === s.sessionId);
  t.equal(mine?.workspaceRoot, ws, 'the ACP session is in GET /v1/session of a server on the same data dir');
  t.equal(mine?.model, 'echo-slow');

  const inWs = await h.agent.request(acp.methods.agent.session.list, { cwd: ws });
  t.same(inWs.sessions.map((x) => x.sessionId), [s.sessionId], 'session/list filters by cwd');
  t.equal(inWs.sessions[0]!.cwd, ws);
  const all = await h.agent.request(acp.methods.agent.session.list, {});
  t.ok([s.sessionId, s2.sessionId].every((id) => all.sessions.some((x) => x.sessionId === id)));

  t.same(await h.agent.request(acp.methods.agent.session.close, { sessionId: s2.sessionId }), {});
  await rejects(t, prompt(h, s2.sessionId, 'after close'), -32002, 'a closed session is not found');
  await rejects(t, newSession(h, 'relative/dir'), -32602, 'a relative cwd is invalid');
  await rejects(t, newSession(h, join(ws, 'missing')), -32602, 'a missing cwd is refused');
  await rejects(t, prompt(h, 'ses_nope', 'x'), -32002, 'an unknown session is not found');
  await rejects(t, h.agent.request(acp.methods.agent.session.prompt, { sessionId: s.sessionId, prompt: [] }), -32602, 'an empty prompt is invalid');
});

t.test('prompt content: resource links, embedded resources and images become the user message', async (t) => {
  const dataDir = tempDir();
  const h = spawnAcp(['--data-dir', dataDir]);
  t.teardown(() => h.close());
  await init(h);
  const s = await newSession(h, realpathSync(tempDir()));
  const r = await h.agent.request(acp.methods.agent.session.prompt, {
    sessionId: s.sessionId,
    prompt: [
      { type: 'text', text: 'look' },
      { type: 'resource_link', name: 'a.ts', uri: 'file:///w/a.ts' },
      { type: 'resource', resource: { uri: 'file:///w/b.ts', text: 'const b = 1;' } },
      { type: 'image', mimeType: 'image/png', data: 'iVBORw0KGgo=' },
    ],
  });
  t.equal(r.stopReason, 'end_turn');
  const http = await spawnHttp({ dataDir });
  t.teardown(() => http.stop());
  const got = await (await fetch(`${http.url}/v1/session/${s.sessionId}`)).json() as { messages: Array<{ role: string; content: unknown[] }> };
  t.same(got.messages.find((m) => m.role === 'user')?.content, [
    { type: 'text', text: 'look' },
    { type: 'text', text: '[a.ts](file:///w/a.ts)' },
    { type: 'text', text: '<context uri="file:///w/b.ts">\nconst b = 1;\n</context>' },
    { type: 'image', mediaType: 'image/png', data: 'iVBORw0KGgo=' },
  ]);
  await rejects(t, h.agent.request(acp.methods.agent.session.prompt, { sessionId: s.sessionId, prompt: [{ type: 'audio', mimeType: 'audio/wav', data: 'AAAA' }] }), -32602, 'audio (not offered) is invalid');
});

t.test('scripted Anthropic: tool calls with diffs, approvals allow_once / reject_once / reject_always, cancel, load', async (t) => {
  const { anthropic, spawn } = await anthropicAcp(t);
  const ws = realpathSync(tempDir('agentd-acp-ws-'));
  writeFileSync(join(ws, 'e.txt'), 'one two\n');
  const h = spawn();
  await init(h);
  const { sessionId } = await newSession(h, ws);

  // allow_once: the write happens; the tool_call, then the permission, then the diff.
  anthropic.script(reply.toolUse([{ id: 'tu_a', name: 'write_file', input: { path: 'a.txt', content: 'A\n' } }]), reply.text(['wrote a']));
  h.onPermission = () => ({ outcome: { outcome: 'selected', optionId: 'allow_once' } });
  t.equal((await prompt(h, sessionId, 'write a')).stopReason, 'end_turn');
  t.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), 'A\n', 'allow_once: written');
  const call = updatesOf(h, sessionId, 'tool_call').find((u) => u.toolCallId === 'tu_a');
  t.match(call, { title: 'Write a.txt', kind: 'edit', rawInput: { path: 'a.txt', content: 'A\n' }, locations: [{ path: join(ws, 'a.txt') }] });
  t.equal(h.permissions.length, 1);
  t.equal(h.permissions[0]!.toolCall.toolCallId, 'tu_a');
  t.same(h.permissions[0]!.options.map((o) => [o.optionId, o.kind]), [['allow_once', 'allow_once'], ['allow_always', 'allow_always'], ['reject_once', 'reject_once'], ['reject_always', 'reject_always']]);
  const done = updatesOf(h, sessionId, 'tool_call_update').find((u) => u.toolCallId === 'tu_a' && u.status === 'completed');
  t.same(done?.content, [{ type: 'diff', path: join(ws, 'a.txt'), oldText: null, newText: 'A\n' }], 'write_file: a diff');
  t.equal(agentText(h.updates, sessionId), 'wrote a');

  // reject_once: not written, the call fails, the turn goes on.
  anthropic.script(reply.toolUse([{ id: 'tu_b', name: 'write_file', input: { path: 'b.txt', content: 'B' } }]), reply.text(['ok']));
  h.onPermission = () => ({ outcome: { outcome: 'selected', optionId: 'reject_once' } });
  t.equal((await prompt(h, sessionId, 'write b')).stopReason, 'end_turn');
  t.notOk(existsSync(join(ws, 'b.txt')), 'reject_once: not written');
  t.ok(updatesOf(h, sessionId, 'tool_call_update').some((u) => u.toolCallId === 'tu_b' && u.status === 'failed'), 'the denied call failed');

  // edit_file: allow_always, then the same tool is not asked again; the diff shows old and new text.
  anthropic.script(reply.toolUse([{ id: 'tu_e', name: 'edit_file', input: { path: 'e.txt', old_string: 'one', new_string: 'uno' } }]), reply.text(['edited']),
    reply.toolUse([{ id: 'tu_e2', name: 'edit_file', input: { path: 'e.txt', old_string: 'two', new_string: 'dos' } }]), reply.text(['edited again']));
  h.onPermission = () => ({ outcome: { outcome: 'selected', optionId: 'allow_always' } });
  await prompt(h, sessionId, 'edit');
  const asked = h.permissions.length;
  await prompt(h, sessionId, 'edit again');
  t.equal(h.permissions.length, asked, 'allow_always: not asked again');
  t.equal(readFileSync(join(ws, 'e.txt'), 'utf8'), 'uno dos\n');
  t.same(updatesOf(h, sessionId, 'tool_call_update').find((u) => u.toolCallId === 'tu_e' && u.status === 'completed')?.content,
    [{ type: 'diff', path: join(ws, 'e.txt'), oldText: 'one', newText: 'uno' }], 'edit_file: a diff');

  // reject_always: denied now and later without asking (a deny rule in the session).
  anthropic.script(reply.toolUse([{ id: 'tu_c', name: 'run_command', input: { command: 'touch c.txt' } }]), reply.text(['no']),
    reply.toolUse([{ id: 'tu_c2', name: 'run_command', input: { command: 'touch c.txt' } }]), reply.text(['still no']));
  h.onPermission = () => ({ outcome: { outcome: 'selected', optionId: 'reject_always' } });
  await prompt(h, sessionId, 'run');
  const afterReject = h.permissions.length;
  await prompt(h, sessionId, 'run again');
  t.equal(h.permissions.length, afterReject, 'reject_always: not asked again');
  t.notOk(existsSync(join(ws, 'c.txt')));
  t.match(updatesOf(h, sessionId, 'tool_call').find((u) => u.toolCallId === 'tu_c'), { kind: 'execute', title: 'Run touch c.txt' });

  // cancel mid-turn while a permission is pending: the client cancels, answers cancelled; stopReason cancelled.
  anthropic.script(reply.toolUse([{ id: 'tu_d', name: 'write_file', input: { path: 'd.txt', content: 'D' } }]), reply.text(['never']));
  h.onPermission = async (req) => {
    await h.agent.notify(acp.methods.agent.session.cancel, { sessionId: req.sessionId });
    return { outcome: { outcome: 'cancelled' } };
  };
  t.equal((await prompt(h, sessionId, 'write d')).stopReason, 'cancelled');
  t.notOk(existsSync(join(ws, 'd.txt')), 'cancelled: not written');
  t.equal(anthropic.pending(), 1, 'the model was not called again after the cancel');
  anthropic.script(); // (the unused reply stays queued for the next turn)

  // session/load in a second process: the whole conversation replays, then the answer.
  const h2 = spawn();
  await init(h2);
  const loaded = await h2.agent.request(acp.methods.agent.session.load, { sessionId, cwd: ws, mcpServers: [] });
  t.equal(loaded.modes?.currentModeId, 'default');
  const kinds = h2.updates.filter((u) => u.sessionId === sessionId).map((u) => u.update.sessionUpdate);
  t.equal(kinds[0], 'user_message_chunk');
  t.same((h2.updates[0]!.update as { content: acp.ContentBlock }).content, { type: 'text', text: 'write a' });
  t.match(updatesOf(h2, sessionId, 'tool_call').find((u) => u.toolCallId === 'tu_a'), { title: 'Write a.txt', kind: 'edit' });
  t.match(updatesOf(h2, sessionId, 'tool_call_update').find((u) => u.toolCallId === 'tu_a'), { status: 'completed', content: [{ type: 'diff', newText: 'A\n' }] });
  t.match(updatesOf(h2, sessionId, 'tool_call_update').find((u) => u.toolCallId === 'tu_b'), { status: 'failed' });
  t.match(agentText(h2.updates, sessionId), /^wrote aok/);
  await rejects(t, h2.agent.request(acp.methods.agent.session.load, { sessionId: 'ses_nope', cwd: ws, mcpServers: [] }), -32002, 'loading an unknown session: not found');
});

t.test('modes: readOnly denies edits and commands without asking, acceptEdits allows edits', async (t) => {
  const { anthropic, spawn } = await anthropicAcp(t);
  const ws = realpathSync(tempDir('agentd-acp-ws-'));
  const h = spawn();
  await init(h);
  const { sessionId } = await newSession(h, ws);

  await h.agent.request(acp.methods.agent.session.setMode, { sessionId, modeId: 'readOnly' });
  t.ok(updatesOf(h, sessionId, 'current_mode_update').some((u) => u.currentModeId === 'readOnly'));
  anthropic.script(reply.toolUse([{ id: 'r1', name: 'write_file', input: { path: 'r.txt', content: 'R' } }]), reply.text(['denied']));
  await prompt(h, sessionId, 'write');
  t.notOk(existsSync(join(ws, 'r.txt')), 'readOnly: not written');
  t.equal(h.permissions.length, 0, 'readOnly: not asked');

  await h.agent.request(acp.methods.agent.session.setMode, { sessionId, modeId: 'acceptEdits' });
  anthropic.script(reply.toolUse([{ id: 'w1', name: 'write_file', input: { path: 'w.txt', content: 'W' } }]), reply.text(['written']));
  await prompt(h, sessionId, 'write');
  t.equal(readFileSync(join(ws, 'w.txt'), 'utf8'), 'W', 'acceptEdits: written');
  t.equal(h.permissions.length, 0, 'acceptEdits: edits are not asked');

  anthropic.script(reply.toolUse([{ id: 'c1', name: 'run_command', input: { command: 'true' } }]), reply.text(['ran']));
  h.onPermission = () => ({ outcome: { outcome: 'selected', optionId: 'reject_once' } });
  await prompt(h, sessionId, 'run');
  t.equal(h.permissions.length, 1, 'acceptEdits: commands still ask');

  await h.agent.request(acp.methods.agent.session.setMode, { sessionId, modeId: 'default' });
  const h2 = spawn();
  await init(h2);
  const loaded = await h2.agent.request(acp.methods.agent.session.load, { sessionId, cwd: ws, mcpServers: [] });
  t.equal(loaded.modes?.currentModeId, 'default', 'the mode is the session\'s policy, persisted');
  await rejects(t, h.agent.request(acp.methods.agent.session.setMode, { sessionId, modeId: 'yolo' }), -32602, 'an unknown mode is invalid');
});

t.test('a provider without a credential: the prompt fails with ACP\'s auth-required', async (t) => {
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ defaultProvider: 'anthropic' }));
  const h = spawnAcp(['--data-dir', dataDir], { env: { ANTHROPIC_API_KEY: '', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' } });
  t.teardown(() => h.close());
  await init(h);
  const { sessionId } = await newSession(h, realpathSync(tempDir()));
  await rejects(t, prompt(h, sessionId, 'hi'), -32000, 'auth required');
});

t.test('todo_write: plan.updated becomes a plan update, and session/load sends the current plan', async (t) => {
  const { anthropic, spawn } = await anthropicAcp(t);
  const h = spawn();
  await init(h);
  const ws = realpathSync(tempDir('agentd-acp-ws-'));
  const { sessionId } = await newSession(h, ws);
  const todos = [{ content: 'read the code', status: 'completed' }, { content: 'fix the bug', status: 'in_progress', priority: 'high' }];
  anthropic.script(reply.toolUse([{ id: 'tu_p', name: 'todo_write', input: { todos } }]), reply.text(['planned']));
  t.equal((await prompt(h, sessionId, 'plan')).stopReason, 'end_turn');
  const expected = [{ content: 'read the code', status: 'completed', priority: 'medium' }, { content: 'fix the bug', status: 'in_progress', priority: 'high' }];
  t.same(updatesOf(h, sessionId, 'plan').map((u) => u.entries), [expected], 'one plan update with the whole list');
  t.match(updatesOf(h, sessionId, 'tool_call').find((u) => u.toolCallId === 'tu_p'), { title: 'Update the plan', kind: 'think' });
  t.equal(h.permissions.length, 0, 'todo_write is not asked about');

  const h2 = spawn();
  await init(h2);
  await h2.agent.request(acp.methods.agent.session.load, { sessionId, cwd: ws, mcpServers: [] });
  t.same(updatesOf(h2, sessionId, 'plan').map((u) => u.entries), [expected], 'load: the current plan, once');
});
