// One provider-neutral scenario (a reply, a tool call with approval, a cancel in the stream) on
// `anthropic` and on `openai-compatible`, each against its scripted local API, over stdio,
// WebSocket and REST + SSE: the transcripts agree across transports, and the session's event
// types come in the same order for both providers.
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import * as anthropic from '../helpers/anthropic-server.js';
import { collapseDeltas, conformance, type Scenario } from '../helpers/conformance.js';
import * as openai from '../helpers/openai-server.js';
import { tempDir, type Json } from '../helpers/rpc-client.js';

interface Script { text(chunks: string[]): unknown; tool(id: string, input: Json): unknown; hang(chunks: string[]): unknown }

const aApi = await anthropic.startAnthropicServer();
const oApi = await openai.startOpenAIServer({ models: [{ id: 'neutral-model', object: 'model' }] });
t.teardown(() => Promise.all([aApi.close(), oApi.close()]));

const providers: Record<string, { provider: string; model: string; env: Record<string, string>; config: Json; script: Script; queue: (...r: unknown[]) => void }> = {
  anthropic: {
    provider: 'anthropic', model: 'claude-test',
    env: { ANTHROPIC_BASE_URL: aApi.url, ANTHROPIC_API_KEY: 'sk-ant-conformance' }, config: {},
    script: { text: (c) => anthropic.reply.text(c), tool: (id, input) => anthropic.reply.toolUse([{ id, name: 'write_file', input }]), hang: (c) => anthropic.reply.hangAfter(c) },
    queue: (...r) => aApi.script(...(r as anthropic.Reply[])),
  },
  'openai-compatible': {
    provider: 'neutral', model: 'neutral-model',
    env: {}, config: { providers: { neutral: { type: 'openai-compatible', baseUrl: oApi.url } } },
    script: { text: (c) => openai.reply.text(c), tool: (id, input) => openai.reply.toolCalls([{ id, name: 'write_file', args: input }]), hang: (c) => openai.reply.hangAfter(c) },
    queue: (...r) => oApi.script(...(r as openai.Reply[])),
  },
};

const sequences = new Map<string, Json>();

for (const [kind, p] of Object.entries(providers)) {
  const scenario: Scenario = async (d, rec, t) => {
    await d.initialize();
    const ws = realpathSync(tempDir('agentd-ws-'));
    const s = await d.request('session/create', { provider: p.provider, model: p.model, workspaceRoot: ws });
    await d.subscribe(s.id, s.lastSeq);
    const turns = (type: string) => d.events(s.id).filter((e) => e.type === type).length;

    p.queue(p.script.text(['Hello ', 'there']));
    const r = await rec.call('reply', 'session/message', { sessionId: s.id, content: 'hi' });
    t.same(r.result?.content, [{ type: 'text', text: 'Hello there' }]);

    // write_file asks by default: answered with tool/approve, the way every transport can.
    p.queue(p.script.tool('toolu_neutral_1', { path: 'a.txt', content: 'approved\n' }), p.script.text(['written']));
    await d.request('session/message', { sessionId: s.id, content: 'write', async: true });
    const asked = await d.waitForEvent(s.id, 'permission.requested');
    await rec.call('approve', 'tool/approve', { permissionId: asked.data.permissionId, toolName: 'write_file', decision: 'allow_once' });
    await d.waitForEvent(s.id, 'turn.completed', () => turns('turn.completed') >= 2);
    t.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), 'approved\n', 'the approved call ran');

    p.queue(p.script.hang(['slow ', 'words']));
    await d.request('session/message', { sessionId: s.id, content: 'slowly', async: true });
    // Both words of the hanging stream arrived (deltas of the newest turn).
    await d.waitForEvent(s.id, 'message.delta', () => turns('turn.started') >= 3 && d.events(s.id).slice(d.events(s.id).findLastIndex((e) => e.type === 'turn.started')).filter((e) => e.type === 'message.delta').length >= 2);
    await rec.call('cancel', 'session/cancel', { sessionId: s.id });
    await d.waitForEvent(s.id, 'turn.cancelled');

    const types = collapseDeltas(d.events(s.id).map((e) => e.type));
    rec.note('event types', types);
    sequences.set(`${kind} over ${d.transport}`, types);
  };
  const dataDir = () => { const dir = tempDir(); writeFileSync(join(dir, 'config.json'), JSON.stringify(p.config)); return dir; };
  // A fresh data dir per transport: conformance() passes the same options to each server.
  await t.test(kind, async (t) => {
    for (const transport of ['stdio', 'websocket', 'rest'] as const) {
      await conformance(t, `${kind} neutral scenario`, scenario, { dataDir: dataDir(), env: p.env }, [transport]);
    }
  });
}

t.test('anthropic and openai-compatible: the same event types in the same order', async (t) => {
  const base = sequences.get('anthropic over stdio');
  t.ok(base && base.length > 10, 'a transcript');
  for (const [name, seq] of sequences) t.same(seq, base, name);
});
