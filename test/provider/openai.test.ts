// openai-compatible providers through the real `openai` SDK against a scripted local Chat
// Completions server, over stdio, WebSocket and REST + SSE: model discovery (from /models, from
// config, refresh), session/create checks, a streamed reply, two tool calls in one reply with
// effects on disk, invalid JSON arguments, 429 then success, 5xx exhausted, a dropped stream,
// cancel in the stream and in a tool, keys (none, config, provider/auth), connection refused,
// an endpoint refusing tools, finish_reason length.
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openDriver, TRANSPORTS, type Driver } from '../helpers/driver.js';
import { closedPort, reply, startOpenAIServer } from '../helpers/openai-server.js';
import { tempDir, type Json } from '../helpers/rpc-client.js';

const BUILTINS = ['edit_file', 'grep', 'list_files', 'read_file', 'run_command', 'todo_write', 'write_file'];
const CFG_KEY = 'sk-cfg-secret-0123456789';
const AUTH_KEY = 'sk-auth-secret-9876543210';

for (const transport of TRANSPORTS) {
  t.test(`openai-compatible over ${transport}`, async (t) => {
    const api = await startOpenAIServer({ models: [{ id: 'test-model', object: 'model', owned_by: 'me' }, { id: 'big-model', object: 'model', context_length: 131072, name: 'Big Model' }] });
    const bare = await startOpenAIServer({ models: null }); // no GET /models
    t.teardown(() => Promise.all([api.close(), bare.close()]));
    const down = await closedPort();
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({
      providers: {
        local: { type: 'openai-compatible', name: 'Local', baseUrl: api.url, maxRetries: 1, models: [{ id: 'test-model', contextWindow: 8192 }] },
        bare: { type: 'openai-compatible', baseUrl: bare.url, models: ['cfg-a', { id: 'cfg-b', name: 'B', contextWindow: 4096 }] },
        keyed: { type: 'openai-compatible', baseUrl: api.url, apiKey: CFG_KEY, headers: { 'X-Title': 'agentd-test' }, maxTokens: 77 },
        down: { type: 'openai-compatible', baseUrl: `http://127.0.0.1:${down}/v1`, models: ['m1'] },
      },
      approvals: { default: 'allow' },
    }));
    const d: Driver = await openDriver(transport, { dataDir, env: { OPENAI_API_KEY: 'sk-env-must-not-leak', OPENAI_BASE_URL: '' } });
    t.teardown(() => d.close());
    await d.initialize();

    const newSession = async (provider = 'local', model?: string) => {
      const ws = realpathSync(tempDir('agentd-ws-'));
      const s = await d.request('session/create', { provider, workspaceRoot: ws, ...(model ? { model } : {}) });
      await d.subscribe(s.id, s.lastSeq);
      return { id: s.id as string, ws };
    };
    const types = (sid: string, type: string) => d.events(sid).filter((e: Json) => e.type === type);

    t.test('provider/list: models from GET /models, from config, refresh', async (t) => {
      const { providers } = await d.request('provider/list', {});
      const by = (id: string) => providers.find((p: Json) => p.id === id);
      t.match(by('local'), { type: 'openai-compatible', name: 'Local', models: ['test-model', 'big-model'], modelsSource: 'endpoint', defaultModel: 'test-model', authenticated: true, authSource: 'none' });
      t.same(by('local').modelInfo, [{ id: 'test-model', name: 'test-model', contextWindow: 8192 }, { id: 'big-model', name: 'Big Model', contextWindow: 131072 }], 'context window configured or from the endpoint');
      t.match(by('bare'), { models: ['cfg-a', 'cfg-b'], modelsSource: 'config', modelInfo: [{ id: 'cfg-a', name: 'cfg-a' }, { id: 'cfg-b', name: 'B', contextWindow: 4096 }] });
      t.match(by('bare').modelsError, /404/);
      t.match(by('down'), { models: ['m1'], modelsSource: 'config' });
      t.match(by('down').modelsError, new RegExp(`could not reach http://127.0.0.1:${down}/v1`));
      t.match(by('keyed'), { authenticated: true, authSource: 'config' });
      t.match(by('openai'), { type: 'openai-compatible', authSource: 'env', modelsSource: 'builtin' });
      t.notMatch(JSON.stringify(providers), /sk-cfg-secret|sk-env-must-not-leak/, 'no secret in the list');
      const listed = api.requests.filter((r) => r.path === '/v1/models').length;
      await d.request('provider/list', {});
      t.equal(api.requests.filter((r) => r.path === '/v1/models').length, listed, 'cached: not fetched again');
      api.models = [...api.models!, { id: 'new-model', object: 'model' }];
      const again = await d.request('provider/list', { refresh: true });
      t.same(again.providers.find((p: Json) => p.id === 'local').models, ['test-model', 'big-model', 'new-model'], 'refresh fetched again');
      t.ok(api.requests.filter((r) => r.path === '/v1/models').length > listed);
      t.notOk(api.requests.some((r) => r.headers.authorization === 'Bearer sk-env-must-not-leak'), 'OPENAI_API_KEY never sent to another provider');
    });

    t.test('session/create: unknown provider or model is -32602 naming the field', async (t) => {
      const p = await d.call('session/create', { provider: 'nope' });
      t.equal(p.error?.code, -32602);
      t.equal(p.error?.data.field, 'provider');
      const m = await d.call('session/create', { provider: 'local', model: 'no-such-model' });
      t.equal(m.error?.code, -32602);
      t.equal(m.error?.data.field, 'model');
      t.match(m.error?.message, /no-such-model/);
      const ok = await d.request('session/create', { provider: 'bare', model: 'cfg-b' });
      t.equal(ok.model, 'cfg-b', 'a configured model of an endpoint without /models');
    });

    t.test('a plain streamed reply, with no key sent', async (t) => {
      const s = await newSession();
      const before = api.chats().length;
      api.script(reply.text(['Hel', 'lo ', 'world'], { reasoning: ['thinking...'] }));
      const msg = await d.request('session/message', { sessionId: s.id, content: 'hi' });
      t.match(msg, { role: 'assistant', status: 'complete', stopReason: 'end_turn' });
      t.same(msg.content, [{ type: 'text', text: 'Hello world' }], 'reasoning deltas dropped');
      t.same(msg.usage, { inputTokens: 20, outputTokens: 3 }, 'usage from the final usage chunk');
      await d.waitForEvent(s.id, 'turn.completed');
      t.same(types(s.id, 'message.delta').map((e: Json) => e.data.delta), [{ type: 'text_delta', text: 'Hel' }, { type: 'text_delta', text: 'lo ' }, { type: 'text_delta', text: 'world' }]);
      const req = api.chats()[before];
      t.equal(api.chats().length, before + 1);
      t.equal(req.headers.authorization, undefined, 'no Authorization header without a key');
      t.match(req.body, { model: 'test-model', stream: true, stream_options: { include_usage: true } });
      t.notOk('max_tokens' in req.body, 'max_tokens only when configured');
      t.equal(req.body.messages[0].role, 'system');
      t.match(req.body.messages[0].content, s.ws);
      t.same(req.body.messages.slice(1), [{ role: 'user', content: 'hi' }]);
      t.same(req.body.tools.map((x: Json) => x.function.name).sort(), BUILTINS);
      t.ok(req.body.tools.every((x: Json) => x.type === 'function' && x.function.parameters?.type === 'object' && typeof x.function.description === 'string'));
      const got = await d.request('session/get', { sessionId: s.id });
      t.same(got.messages.at(-1).usage, msg.usage, 'usage stored on the assistant message');
    });

    t.test('two tool calls in one reply (write_file, run_command), effects on disk', async (t) => {
      const s = await newSession();
      const before = api.chats().length;
      api.script(
        reply.toolCalls([
          { id: 'call_w', name: 'write_file', args: { path: 'out/hello.txt', content: 'hi from the model\n' } },
          { id: 'call_r', name: 'run_command', args: { command: 'cat out/hello.txt && echo done > done.txt && echo "key=[${OPENAI_API_KEY:-}]"' } },
        ], 'On it.'),
        reply.text(['All ', 'done.']),
      );
      const msg = await d.request('session/message', { sessionId: s.id, content: 'write and run' });
      t.same(msg.content, [{ type: 'text', text: 'All done.' }]);
      t.equal(readFileSync(join(s.ws, 'out/hello.txt'), 'utf8'), 'hi from the model\n', 'write_file wrote the file');
      t.equal(readFileSync(join(s.ws, 'done.txt'), 'utf8'), 'done\n', 'run_command ran in the workspace');
      await d.waitForEvent(s.id, 'turn.completed');
      t.same(types(s.id, 'tool.started').map((e: Json) => [e.data.callId, e.data.tool]), [['call_w', 'write_file'], ['call_r', 'run_command']]);
      t.same(types(s.id, 'tool.started')[0].data.input, { path: 'out/hello.txt', content: 'hi from the model\n' }, 'arguments assembled from pieces by index');
      const completed = types(s.id, 'tool.completed');
      t.equal(completed.length, 2);
      t.match(completed[1].data.result.content[0].text, 'key=[]', 'the command does not see OPENAI_API_KEY');
      t.ok(types(s.id, 'tool.output').length >= 1, 'run_command output streamed');
      t.equal(api.chats().length, before + 2);
      const second = api.chats()[before + 1].body;
      t.same(second.messages.slice(1).map((m: Json) => m.role), ['user', 'assistant', 'tool', 'tool']);
      t.same(second.messages[2], {
        role: 'assistant', content: 'On it.',
        tool_calls: [
          { id: 'call_w', type: 'function', function: { name: 'write_file', arguments: JSON.stringify({ path: 'out/hello.txt', content: 'hi from the model\n' }) } },
          { id: 'call_r', type: 'function', function: { name: 'run_command', arguments: JSON.stringify({ command: 'cat out/hello.txt && echo done > done.txt && echo "key=[${OPENAI_API_KEY:-}]"' }) } },
        ],
      });
      t.same(second.messages.slice(3).map((m: Json) => m.tool_call_id), ['call_w', 'call_r']);
      t.match(second.messages[4].content, 'hi from the model');
      const got = await d.request('session/get', { sessionId: s.id });
      t.same(got.messages.map((m: Json) => `${m.role}:${m.status}`), ['user:complete', 'assistant:complete', 'user:complete', 'assistant:complete']);
      t.equal(got.messages[1].stopReason, 'tool_use');
    });

    t.test('invalid JSON arguments: a tool error result for the model, the turn goes on', async (t) => {
      const s = await newSession();
      const before = api.chats().length;
      api.script(reply.toolCalls([{ id: 'call_bad', name: 'write_file', args: '{"path": "x.txt", "content": ' }]), reply.text(['sorry']));
      const msg = await d.request('session/message', { sessionId: s.id, content: 'go' });
      t.same(msg.content, [{ type: 'text', text: 'sorry' }]);
      await d.waitForEvent(s.id, 'turn.completed');
      const failed = types(s.id, 'tool.failed');
      t.equal(failed.length, 1);
      t.match(failed[0].data, { callId: 'call_bad', tool: 'write_file', error: { code: -32030 } });
      t.match(failed[0].data.result.content[0].text, /not valid JSON/);
      const toolMsg = api.chats()[before + 1].body.messages.find((m: Json) => m.role === 'tool');
      t.match(toolMsg, { tool_call_id: 'call_bad', content: /not valid JSON/ });
      t.throws(() => readFileSync(join(s.ws, 'x.txt')), 'the tool did not run');
    });

    t.test('429 then success: retried, honouring retry-after', async (t) => {
      const s = await newSession();
      const before = api.chats().length;
      api.script(reply.error(429, 'Rate limit reached', { 'retry-after': '1' }), reply.text(['after ', 'retry']));
      const msg = await d.request('session/message', { sessionId: s.id, content: 'hello' });
      t.same(msg.content, [{ type: 'text', text: 'after retry' }]);
      t.equal(api.chats().length, before + 2, 'two requests');
      const gap = api.chats()[before + 1].at - api.chats()[before].at;
      t.ok(gap >= 900, `waited for retry-after (1 s) before retrying (${gap} ms)`);
    });

    t.test('5xx until retries are exhausted: turn.failed with a typed error', async (t) => {
      const s = await newSession();
      const before = api.chats().length;
      api.script(...[1, 2].map(() => reply.error(503, 'overloaded', { 'retry-after-ms': '20' })));
      const r = await d.call('session/message', { sessionId: s.id, content: 'hello' });
      t.equal(r.error?.code, -32017, 'ProviderError');
      t.match(r.error?.data, { provider: 'local', status: 503 });
      if (transport === 'rest') t.equal(r.status, 502);
      t.equal(api.chats().length, before + 2, '1 try + maxRetries (1)');
      const failed = await d.waitForEvent(s.id, 'turn.failed');
      t.match(failed.data.error, { code: -32017, data: { provider: 'local', status: 503 } });
      t.match(failed.data.error.message, /503.*overloaded/);
    });

    t.test('stream dropped mid-way: turn.failed, partial text kept as incomplete', async (t) => {
      const s = await newSession();
      api.script(reply.dropAfter(['partial ', 'text']));
      const r = await d.call('session/message', { sessionId: s.id, content: 'go' });
      t.equal(r.error?.code, -32017);
      t.equal(r.error?.data.provider, 'local');
      await d.waitForEvent(s.id, 'turn.failed');
      const got = await d.request('session/get', { sessionId: s.id });
      t.match(got.messages.at(-1), { role: 'assistant', status: 'incomplete', content: [{ type: 'text', text: 'partial text' }], error: { code: -32017 } });
      api.script(reply.text(['recovered']));
      const ok = await d.request('session/message', { sessionId: s.id, content: 'again' });
      t.same(ok.content, [{ type: 'text', text: 'recovered' }], 'the session stays usable');
      t.same(api.chats().at(-1)!.body.messages.slice(1), [{ role: 'user', content: 'go' }, { role: 'assistant', content: 'partial text' }, { role: 'user', content: 'again' }]);
    });

    t.test('cancel during the stream', async (t) => {
      const s = await newSession();
      api.script(reply.hangAfter(['first ', 'words']));
      const accepted = await d.request('session/message', { sessionId: s.id, content: 'slowly', async: true });
      await d.waitForEvent(s.id, 'message.delta', () => types(s.id, 'message.delta').length >= 2);
      const c = await d.request('session/cancel', { sessionId: s.id });
      t.same(c, { sessionId: s.id, cancelled: true, turnId: accepted.turnId });
      await d.waitForEvent(s.id, 'turn.cancelled', undefined, 5000);
      const got = await d.request('session/get', { sessionId: s.id });
      t.equal(got.session.status, 'idle');
      t.match(got.messages.at(-1), { role: 'assistant', status: 'incomplete', content: [{ type: 'text', text: 'first words' }] });
    });

    t.test('cancel during a tool', async (t) => {
      const s = await newSession();
      api.script(reply.toolCalls([{ id: 'call_sleep', name: 'run_command', args: { command: 'sleep 30' } }]));
      await d.request('session/message', { sessionId: s.id, content: 'sleep', async: true });
      await d.waitForEvent(s.id, 'tool.started');
      const t0 = Date.now();
      await d.request('session/cancel', { sessionId: s.id });
      await d.waitForEvent(s.id, 'turn.cancelled', undefined, 5000);
      t.ok(Date.now() - t0 < 3000, `turn.cancelled ${Date.now() - t0} ms after the cancel`);
      t.match(types(s.id, 'tool.failed')[0]?.data, { callId: 'call_sleep', error: { code: -32800 } });
    });

    t.test('keys: from config with headers, then from provider/auth; never echoed', async (t) => {
      const s = await newSession('keyed');
      api.script(reply.text(['ok']));
      await d.request('session/message', { sessionId: s.id, content: 'k' });
      const req = api.chats().at(-1)!;
      t.equal(req.headers.authorization, `Bearer ${CFG_KEY}`);
      t.equal(req.headers['x-title'], 'agentd-test', 'configured headers sent');
      t.equal(req.body.max_tokens, 77, 'configured maxTokens');
      const cfg = await d.request('config/get', {});
      t.equal(cfg.config.providers.keyed.apiKey, '[redacted]');
      t.equal(cfg.config.providers.keyed.headers['X-Title'], '[redacted]');
      await d.request('provider/auth', { providerId: 'keyed', apiKey: AUTH_KEY });
      api.script(reply.text(['ok']));
      await d.request('session/message', { sessionId: s.id, content: 'k2' });
      t.equal(api.chats().at(-1)!.headers.authorization, `Bearer ${AUTH_KEY}`, 'a stored key wins, without a restart');
      const { providers } = await d.request('provider/list', {});
      t.match(providers.find((p: Json) => p.id === 'keyed'), { authSource: 'apiKey' });
      t.notMatch(JSON.stringify(d.events(s.id)), /sk-(cfg|auth)-secret/, 'no key in any event');
    });

    t.test('connection refused names the URL', async (t) => {
      const s = await newSession('down', 'm1');
      const r = await d.call('session/message', { sessionId: s.id, content: 'x' });
      t.equal(r.error?.code, -32017);
      t.match(r.error?.message, `could not reach http://127.0.0.1:${down}/v1 (connection refused)`);
      t.match(r.error?.data, { provider: 'down', type: 'connection_error' });
    });

    t.test('an endpoint refusing tools for a model fails the turn naming the model', async (t) => {
      const s = await newSession('local', 'big-model');
      api.script(reply.error(400, 'registry.ollama.ai/library/big-model does not support tools'));
      const r = await d.call('session/message', { sessionId: s.id, content: 'x' });
      t.equal(r.error?.code, -32017);
      t.match(r.error?.message, /model big-model does not accept tools/);
      t.match(r.error?.data, { provider: 'local', status: 400, type: 'tools_unsupported' });
    });

    t.test('finish_reason length ends like max_tokens', async (t) => {
      const s = await newSession();
      api.script(reply.text(['cut'], { finish: 'length' }));
      const msg = await d.request('session/message', { sessionId: s.id, content: 'long' });
      t.equal(msg.stopReason, 'max_tokens');
      const done = await d.waitForEvent(s.id, 'turn.completed');
      t.equal(done.data.stopReason, 'max_tokens');
    });
  });
}
