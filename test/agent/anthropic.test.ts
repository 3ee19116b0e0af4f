// The agent loop through the Anthropic provider (the real SDK) against a scripted local
// Messages API server, over each JSON-RPC transport: streaming, tool use with effects on disk,
// retries, failures, dropped connections, cancel (stream and command), busy sessions.
import { mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { credentialOf, reply, startAnthropicServer } from '../helpers/anthropic-server.js';
import { tempDir, type Json } from '../helpers/rpc-client.js';
import { open, RPC_TRANSPORTS } from '../helpers/transports.js';

const ENV_KEY = 'sk-ant-test-env-0123456789';
const BUILTINS = ['edit_file', 'grep', 'list_files', 'read_file', 'run_command', 'todo_write', 'write_file'];

/** Host pids whose command line is exactly `cmd` (a command's own `$!` is a pid in the sandbox's PID namespace). */
const pidsRunning = (cmd: string) => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
  try {
    return readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() === cmd;
  } catch {
    return false;
  }
});

for (const transport of RPC_TRANSPORTS) {
  t.test(`anthropic provider over ${transport}`, async (t) => {
    const api = await startAnthropicServer();
    t.teardown(() => api.close());
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ providers: { anthropic: { maxRetries: 2, maxTokens: 1000 } }, approvals: { default: 'allow' } }));
    const { client, close } = await open(transport, { dataDir, env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: ENV_KEY } });
    t.teardown(close);
    await client.initialize();
    await client.request('session/subscribe', {});

    const newSession = async () => {
      const ws = realpathSync(tempDir('agentd-ws-'));
      const s = await client.request('session/create', { provider: 'anthropic', workspaceRoot: ws });
      return { id: s.id as string, ws, model: s.model as string };
    };
    const ofSession = (sid: string, type?: string) => client.events(sid).filter((e: Json) => !type || e.type === type);

    t.test('provider/list shows anthropic authenticated from the environment', async (t) => {
      const { providers } = await client.request('provider/list', {});
      const a = providers.find((p: Json) => p.id === 'anthropic');
      t.match(a, { id: 'anthropic', authenticated: true, authSource: 'env' });
      t.ok(a.models.includes(a.defaultModel));
      t.ok(providers.find((p: Json) => p.id === 'echo'));
      t.notMatch(JSON.stringify(providers), ENV_KEY, 'no secret in the list');
    });

    t.test('a plain streamed reply', async (t) => {
      const s = await newSession();
      const before = api.requests.length;
      api.script(reply.text(['Hel', 'lo ', 'world']));
      const msg = await client.request('session/message', { sessionId: s.id, content: 'hi' });
      t.equal(msg.role, 'assistant');
      t.equal(msg.status, 'complete');
      t.equal(msg.stopReason, 'end_turn');
      t.same(msg.content, [{ type: 'text', text: 'Hello world' }]);
      t.same(msg.usage, { inputTokens: 12, outputTokens: 3 });
      await client.waitForEvent('turn.completed', (e) => e.sessionId === s.id);
      const deltas = ofSession(s.id, 'message.delta').map((e: Json) => e.data.delta.text);
      t.same(deltas, ['Hel', 'lo ', 'world'], 'one message.delta per text_delta, in order');
      const req = api.requests[before];
      t.equal(api.requests.length, before + 1);
      t.equal(credentialOf(req), ENV_KEY);
      t.equal(req.body.stream, true);
      t.equal(req.body.model, s.model);
      t.equal(req.body.max_tokens, 1000);
      t.match(req.body.system, s.ws, 'the system prompt names the workspace root');
      t.same(req.body.messages, [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }]);
      t.same(req.body.tools.map((x: Json) => x.name).sort(), BUILTINS);
      t.ok(req.body.tools.every((x: Json) => x.input_schema?.type === 'object'));
      const got = await client.request('session/get', { sessionId: s.id });
      const stored = got.messages.at(-1);
      t.same(stored.content, msg.content, 'assistant message persisted with its content blocks');
      t.same(stored.usage, msg.usage, 'and its usage');
    });

    t.test('two tool calls (write_file, run_command) with effects on disk', async (t) => {
      const s = await newSession();
      const before = api.requests.length;
      api.script(
        reply.toolUse([
          { id: 'toolu_w', name: 'write_file', input: { path: 'out/hello.txt', content: 'hi from the model\n' } },
          { id: 'toolu_r', name: 'run_command', input: { command: 'cat out/hello.txt && echo done > done.txt && echo "key=[${ANTHROPIC_API_KEY:-}]" && echo oops >&2' } },
        ], 'Let me do that.'),
        reply.text(['All ', 'done.']),
      );
      const msg = await client.request('session/message', { sessionId: s.id, content: 'write and run' });
      t.same(msg.content, [{ type: 'text', text: 'All done.' }]);
      t.equal(readFileSync(join(s.ws, 'out/hello.txt'), 'utf8'), 'hi from the model\n', 'write_file wrote the file');
      t.equal(readFileSync(join(s.ws, 'done.txt'), 'utf8'), 'done\n', 'run_command ran in the workspace');

      await client.waitForEvent('turn.completed', (e) => e.sessionId === s.id);
      const started = ofSession(s.id, 'tool.started');
      t.same(started.map((e: Json) => [e.data.callId, e.data.tool]), [['toolu_w', 'write_file'], ['toolu_r', 'run_command']]);
      t.same(started[0].data.input, { path: 'out/hello.txt', content: 'hi from the model\n' }, 'input assembled from input_json_delta pieces');
      const completed = ofSession(s.id, 'tool.completed');
      t.equal(completed.length, 2);
      t.match(completed[0].data.result.content[0].text, /Wrote 18 bytes to out\/hello.txt/);
      const out = ofSession(s.id, 'tool.output');
      t.ok(out.length >= 1, 'run_command output streamed');
      t.ok(out.every((e: Json) => e.data.callId === 'toolu_r'));
      t.match(out.filter((e: Json) => e.data.stream === 'stdout').map((e: Json) => e.data.text).join(''), 'hi from the model');
      t.match(out.filter((e: Json) => e.data.stream === 'stderr').map((e: Json) => e.data.text).join(''), 'oops');
      t.match(completed[1].data.result.content[0].text, 'key=[]', 'the command does not see ANTHROPIC_API_KEY');

      t.equal(api.requests.length, before + 2);
      const second = api.requests[before + 1].body;
      t.same(second.messages.map((m: Json) => m.role), ['user', 'assistant', 'user']);
      t.same(second.messages[1].content.map((b: Json) => b.type), ['text', 'tool_use', 'tool_use']);
      t.same(second.messages[1].content[1], { type: 'tool_use', id: 'toolu_w', name: 'write_file', input: { path: 'out/hello.txt', content: 'hi from the model\n' } });
      t.same(second.messages[2].content.map((b: Json) => [b.type, b.tool_use_id]), [['tool_result', 'toolu_w'], ['tool_result', 'toolu_r']]);
      t.match(second.messages[2].content[1].content[0].text, /hi from the model\ndone|hi from the model/);
      const got = await client.request('session/get', { sessionId: s.id });
      t.same(got.messages.map((m: Json) => `${m.role}:${m.status}`), ['user:complete', 'assistant:complete', 'user:complete', 'assistant:complete']);
    });

    t.test('429 then success: retried, honouring retry-after', async (t) => {
      const s = await newSession();
      const before = api.requests.length;
      api.script(reply.error(429, 'rate_limit_error', { 'retry-after': '1' }), reply.text(['after ', 'retry']));
      const msg = await client.request('session/message', { sessionId: s.id, content: 'hello' });
      t.same(msg.content, [{ type: 'text', text: 'after retry' }]);
      t.equal(api.requests.length, before + 2, 'two requests');
      const gap = api.requests[before + 1].at - api.requests[before].at;
      t.ok(gap >= 900, `waited for retry-after (1 s) before retrying (${gap} ms)`);
    });

    t.test('529 until retries are exhausted: turn.failed with a typed error', async (t) => {
      const s = await newSession();
      const before = api.requests.length;
      api.script(...[1, 2, 3].map(() => reply.error(529, 'overloaded_error', { 'retry-after': '0.05' })));
      const r = await client.call('session/message', { sessionId: s.id, content: 'hello' });
      t.equal(r.error?.code, -32017, 'ProviderError');
      t.match(r.error?.data, { provider: 'anthropic', status: 529, type: 'overloaded_error' });
      t.equal(api.requests.length, before + 3, '1 try + maxRetries (2)');
      const failed = await client.waitForEvent('turn.failed', (e) => e.sessionId === s.id);
      t.match(failed.data.error, { code: -32017, data: { provider: 'anthropic', status: 529, type: 'overloaded_error' } });
      t.match(failed.data.error.message, /529/);
      // The session stays usable.
      api.script(reply.text(['fine']));
      const ok = await client.request('session/message', { sessionId: s.id, content: 'again' });
      t.same(ok.content, [{ type: 'text', text: 'fine' }]);
    });

    t.test('an error event inside the stream fails the turn, partial text kept', async (t) => {
      const s = await newSession();
      api.script(reply.streamError('overloaded_error', 'Overloaded', ['half ']));
      const r = await client.call('session/message', { sessionId: s.id, content: 'x' });
      t.equal(r.error?.code, -32017);
      t.match(r.error?.data, { provider: 'anthropic', type: 'overloaded_error', status: 529 });
      const got = await client.request('session/get', { sessionId: s.id });
      t.match(got.messages.at(-1), { role: 'assistant', status: 'incomplete', content: [{ type: 'text', text: 'half ' }] });
    });

    t.test('connection dropped mid-stream: turn.failed, partial text kept and marked incomplete', async (t) => {
      const s = await newSession();
      const before = api.requests.length;
      api.script(reply.dropAfter(['partial ', 'text']));
      const r = await client.call('session/message', { sessionId: s.id, content: 'go' });
      t.equal(r.error?.code, -32017);
      t.equal(r.error?.data.provider, 'anthropic');
      const failed = await client.waitForEvent('turn.failed', (e) => e.sessionId === s.id);
      t.equal(failed.data.error.code, -32017);
      const got = await client.request('session/get', { sessionId: s.id });
      const last = got.messages.at(-1);
      t.match(last, { role: 'assistant', status: 'incomplete', content: [{ type: 'text', text: 'partial text' }] });
      t.equal(last.error.code, -32017);
      t.equal(failed.data.messageId, last.id);
      t.equal(api.requests.length, before + 1, 'a broken stream is not retried');
      // Usable afterwards; the partial reply is part of the conversation.
      api.script(reply.text(['recovered']));
      const ok = await client.request('session/message', { sessionId: s.id, content: 'again' });
      t.same(ok.content, [{ type: 'text', text: 'recovered' }]);
      const next = api.requests.at(-1)!.body;
      t.same(next.messages.map((m: Json) => m.role), ['user', 'assistant', 'user']);
      t.same(next.messages[1].content, [{ type: 'text', text: 'partial text' }]);
    });

    t.test('cancel during a slow stream', async (t) => {
      const s = await newSession();
      api.script(reply.hangAfter(['first ', 'words']));
      const accepted = await client.request('session/message', { sessionId: s.id, content: 'stream slowly', async: true });
      t.equal(accepted.status, 'accepted');
      await client.waitFor(() => ofSession(s.id, 'message.delta').length >= 2, 10_000, 'deltas');
      const t0 = Date.now();
      const c = await client.request('session/cancel', { sessionId: s.id });
      t.same(c, { sessionId: s.id, cancelled: true, turnId: accepted.turnId });
      const ev = await client.waitForEvent('turn.cancelled', (e) => e.sessionId === s.id, 5000);
      t.comment(`stream cancel: turn.cancelled ${Date.now() - t0} ms after session/cancel was sent`);
      t.equal(ev.data.turnId, accepted.turnId);
      const got = await client.request('session/get', { sessionId: s.id });
      t.equal(got.session.status, 'idle');
      t.match(got.messages.at(-1), { role: 'assistant', status: 'incomplete', content: [{ type: 'text', text: 'first words' }] });
      api.script(reply.text(['still here']));
      const ok = await client.request('session/message', { sessionId: s.id, content: 'again' });
      t.same(ok.content, [{ type: 'text', text: 'still here' }]);
    });

    t.test('cancel during a long run_command kills the process group', async (t) => {
      const s = await newSession();
      const sleep = `sleep 30.${process.pid}${Date.now() % 1000}`;
      api.script(reply.toolUse([{ id: 'toolu_sleep', name: 'run_command', input: { command: `${sleep} & echo started; wait` } }]));
      const accepted = await client.request('session/message', { sessionId: s.id, content: 'run it', async: true });
      await client.waitForEvent('tool.output', (e) => e.sessionId === s.id && /started/.test(e.data.text));
      // `echo started` can run before the backgrounded sleep has exec'd: wait for it to appear.
      await client.waitFor(() => pidsRunning(sleep).length === 1, 5000, 'the sleep process');
      t.ok(pidsRunning(sleep).length === 1, 'the command is running');
      const t0 = Date.now();
      await client.request('session/cancel', { sessionId: s.id });
      const ev = await client.waitForEvent('turn.cancelled', (e) => e.sessionId === s.id, 5000);
      t.comment(`command cancel: turn.cancelled ${Date.now() - t0} ms after session/cancel was sent`);
      t.equal(ev.data.turnId, accepted.turnId);
      const failed = await client.waitForEvent('tool.failed', (e) => e.sessionId === s.id);
      t.equal(failed.data.callId, 'toolu_sleep');
      t.equal(failed.data.error.code, -32800);
      await client.waitFor(() => pidsRunning(sleep).length === 0, 5000, 'the background sleep to be killed');
      t.same(pidsRunning(sleep), [], 'the whole process group was killed');
      // The history stays valid: the tool_use is answered by a (cancelled) tool_result.
      api.script(reply.text(['ok']));
      await client.request('session/message', { sessionId: s.id, content: 'next' });
      const body = api.requests.at(-1)!.body;
      t.same(body.messages.map((m: Json) => m.role), ['user', 'assistant', 'user']);
      t.equal(body.messages[2].content[0].type, 'tool_result');
      t.equal(body.messages[2].content[0].is_error, true);
      t.equal(body.messages[2].content.at(-1).type, 'text');
    });

    t.test('cancel while waiting to retry', async (t) => {
      const s = await newSession();
      const before = api.requests.length;
      api.script(reply.error(429, 'rate_limit_error', { 'retry-after': '30' }));
      const accepted = await client.request('session/message', { sessionId: s.id, content: 'x', async: true });
      await client.waitFor(() => api.requests.length > before, 5000, 'the first request');
      await client.request('session/cancel', { sessionId: s.id });
      const ev = await client.waitForEvent('turn.cancelled', (e) => e.sessionId === s.id, 5000);
      t.equal(ev.data.turnId, accepted.turnId);
      t.equal(api.requests.length, before + 1, 'no retry after cancel');
    });

    t.test('a second message while busy gets SessionBusy', async (t) => {
      const s = await newSession();
      api.script(reply.hangAfter(['busy ']));
      const accepted = await client.request('session/message', { sessionId: s.id, content: 'one', async: true });
      await client.waitForEvent('message.delta', (e) => e.sessionId === s.id);
      const second = await client.call('session/message', { sessionId: s.id, content: 'two' });
      t.equal(second.error?.code, -32011);
      t.equal(second.error?.data.turnId, accepted.turnId);
      await client.request('session/cancel', { sessionId: s.id });
      await client.waitForEvent('turn.cancelled', (e) => e.sessionId === s.id);
      api.script(reply.text(['free']));
      const ok = await client.request('session/message', { sessionId: s.id, content: 'three' });
      t.same(ok.content, [{ type: 'text', text: 'free' }]);
    });

    t.test('a read-only tool round (grep), then end_turn', async (t) => {
      const s = await newSession();
      mkdirSync(join(s.ws, 'd'));
      writeFileSync(join(s.ws, 'd/a.txt'), 'alpha\nbeta\n');
      api.script(reply.toolUse([{ id: 'toolu_g', name: 'grep', input: { pattern: 'bet' } }]), reply.text(['found']));
      await client.request('session/message', { sessionId: s.id, content: 'grep' });
      const done = await client.waitForEvent('turn.completed', (e) => e.sessionId === s.id);
      t.equal(done.data.stopReason, 'end_turn');
      const completed = ofSession(s.id, 'tool.completed');
      t.equal(completed[0].data.result.content[0].text, 'd/a.txt:2:beta');
      t.same(completed[0].data.input, { pattern: 'bet' });
    });

    t.equal(api.pending(), 0, 'every scripted reply was used');
  });
}

t.test('step limit and missing credential', async (t) => {
  const api = await startAnthropicServer();
  t.teardown(() => api.close());
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ limits: { maxSteps: 2 }, approvals: { default: 'allow' } }));
  const { client, close } = await open('stdio', { dataDir, env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: '' } });
  t.teardown(close);
  await client.initialize();
  const s = await client.request('session/create', { provider: 'anthropic', workspaceRoot: tempDir('agentd-ws-') });
  const none = await client.call('session/message', { sessionId: s.id, content: 'hi' });
  t.equal(none.error?.code, -32013, 'Unauthorized without any credential');
  t.equal(api.requests.length, 0, 'nothing was sent');
  await client.request('provider/auth', { providerId: 'anthropic', apiKey: 'sk-ant-stored-key' });
  const call = (n: number) => reply.toolUse([{ id: `toolu_${n}`, name: 'list_files', input: {} }]);
  api.script(call(1), call(2), call(3));
  const r = await client.request('session/message', { sessionId: s.id, content: 'loop' });
  t.equal(r.stopReason, 'tool_use');
  t.equal(api.requests.length, 2, 'two model calls, then the step limit');
  t.equal(credentialOf(api.requests[0]), 'sk-ant-stored-key', 'the stored key is used at once, without a restart');
  await client.request('session/subscribe', { sessionId: s.id, since: 0 });
  const done = await client.waitForEvent('turn.completed');
  t.equal(done.data.stopReason, 'step_limit');
});
