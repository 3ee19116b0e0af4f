// Session control (issue 16) over stdio, WebSocket and REST + SSE: rename and model switch (the
// scripted Anthropic server sees the new model on the next turn), usage and cost with a
// configured price and with a shipped default, paging through 250 messages, a bounded
// session/get, session/list pages and search, fork at a middle message and while a turn runs,
// permission/list. The transcripts must agree modulo ids and times.
// The scenario lives here so that test/conformance/session-control.test.ts runs it on SQLite and
// test/conformance/postgres.test.ts on PostgreSQL (one node, and two nodes on one database).
import { reply, type AnthropicServer } from '../anthropic-server.js';
import type { Scenario } from '../conformance.js';
import type { Driver, Outcome } from '../driver.js';
import { tempDir, type Json } from '../rpc-client.js';

/** Configured price of the echo model: $2 / $10 per million tokens. */
const ECHO_PRICE = { inputPerMTok: 2, outputPerMTok: 10 };

const text = (m: Json) => m.content.map((c: Json) => c.text ?? '').join('');

async function waitNth(d: Driver, sessionId: string, type: string, n: number): Promise<Json> {
  await d.waitForEvent(sessionId, type, () => d.events(sessionId).filter((e) => e.type === type).length >= n, 15_000);
  return d.events(sessionId).filter((e) => e.type === type)[n - 1];
}

export const control = (api: AnthropicServer): Scenario => async (d, rec, t) => {
  await d.initialize();
  const expectError = (out: Outcome, code: number, status: number, what: string) => {
    t.equal(out.error?.code, code, `${what}: code ${code}`);
    if (d.transport === 'rest') t.equal(out.status, status, `${what}: HTTP ${status}`);
  };
  await d.request('config/update', { config: { providers: { echo: { models: [{ id: 'echo', price: ECHO_PRICE, contextWindow: 1000 }] } } } });

  // --- usage and cost with a configured price (echo: input = the text's length, output = its words)
  const s = await d.request('session/create', { name: 'Alpha' });
  t.match(s, { usage: { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 }, costUsd: null, context: { usedTokens: 0, windowTokens: 1000 } });
  await d.subscribe(s.id, s.lastSeq);
  const r1 = await d.request('session/message', { sessionId: s.id, content: 'hello world' });
  const cost1 = (11 * 2 + 3 * 10) / 1e6;
  t.same(r1.usage, { inputTokens: 11, outputTokens: 3 }, 'the message carries its usage');
  t.equal(r1.costUsd, cost1, 'and its cost at the configured price');
  const done1 = await waitNth(d, s.id, 'turn.completed', 1);
  t.match(done1.data, { usage: { inputTokens: 11, outputTokens: 3 }, costUsd: cost1 }, 'turn.completed carries the turn totals');
  const u1 = await waitNth(d, s.id, 'usage.updated', 1);
  t.same(u1.data, {
    turnId: done1.data.turnId, messageId: r1.id, model: 'echo', usage: { inputTokens: 11, outputTokens: 3 }, costUsd: cost1,
    sessionUsage: { inputTokens: 11, outputTokens: 3, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 }, sessionCostUsd: cost1,
    context: { usedTokens: 11, windowTokens: 1000 },
  }, 'usage.updated follows the model call');
  const typesOf = d.events(s.id).map((e) => e.type);
  t.ok(typesOf.indexOf('message.completed') < typesOf.indexOf('usage.updated') && typesOf.indexOf('usage.updated') < typesOf.indexOf('turn.completed'), 'after message.completed, before turn.completed');
  await d.request('session/message', { sessionId: s.id, content: 'again' });
  const cost2 = (5 * 2 + 2 * 10) / 1e6;
  const afterTwo = (await d.request('session/get', { sessionId: s.id })).session;
  t.match(afterTwo, { usage: { inputTokens: 16, outputTokens: 5 }, costUsd: Math.round((cost1 + cost2) * 1e9) / 1e9, context: { usedTokens: 5, windowTokens: 1000 } }, 'the session carries running totals');
  rec.note('usage after two turns', { usage: afterTwo.usage, costUsd: afterTwo.costUsd, context: afterTwo.context });

  // --- rename and switch model
  const upd = await rec.call('rename + echo-slow', 'session/update', { sessionId: s.id, name: 'Renamed', model: 'echo-slow' });
  t.match(upd.result, { id: s.id, name: 'Renamed', model: 'echo-slow', provider: 'echo' });
  const updated = await d.waitForEvent(s.id, 'session.updated');
  t.same(updated.data.changed, ['name', 'model'], 'session.updated names the changed fields');
  t.equal(updated.data.session.name, 'Renamed');
  expectError(await rec.call('unknown model', 'session/update', { sessionId: s.id, model: 'gpt-nope' }), -32602, 400, 'unknown model');
  expectError(await rec.call('unknown provider', 'session/update', { sessionId: s.id, provider: 'nope' }), -32602, 400, 'unknown provider');
  const bad = await d.call('session/update', { sessionId: s.id, provider: 'nope' });
  t.equal(bad.error?.data?.field, 'provider', 'the error names the field');
  t.equal((await d.call('session/update', { sessionId: s.id, model: 'gpt-nope' })).error?.data?.field, 'model');
  expectError(await rec.call('update unknown session', 'session/update', { sessionId: 'ses_nope', name: 'x' }), -32010, 404, 'update unknown');
  await d.request('session/message', { sessionId: s.id, content: 'slow now' });
  const u3 = await waitNth(d, s.id, 'usage.updated', 3);
  t.equal(u3.data.model, 'echo-slow', 'the next turn runs on the new model');
  t.equal(u3.data.costUsd, null, 'a model without a price costs null');
  t.equal(u3.data.sessionCostUsd, afterTwo.costUsd, 'and leaves the running cost as it was');

  // --- Anthropic: the scripted server sees the switched model; a shipped default price
  const a = await d.request('session/create', { name: 'claude', provider: 'anthropic', model: 'claude-haiku-4-5' });
  const seen = api.requests.length;
  api.script(
    reply.text(['Hi'], { usage: { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 1000, cache_creation_input_tokens: 200 } }),
    reply.text(['Again'], { usage: { input_tokens: 50, output_tokens: 10 } }),
  );
  const c1 = await d.request('session/message', { sessionId: a.id, content: 'hi' });
  t.same(c1.usage, { inputTokens: 100, outputTokens: 20, cacheReadInputTokens: 1000, cacheCreationInputTokens: 200 });
  const haiku = (100 * 1 + 20 * 5 + 1000 * 0.1 + 200 * 1.25) / 1e6;
  t.equal(c1.costUsd, haiku, 'claude-haiku-4-5 at the shipped price');
  await rec.call('switch to sonnet', 'session/update', { sessionId: a.id, model: 'claude-sonnet-4-6' });
  const c2 = await d.request('session/message', { sessionId: a.id, content: 'again' });
  t.equal(text(c2), 'Again');
  t.same(api.requests.slice(seen).map((r) => r.body.model), ['claude-haiku-4-5', 'claude-sonnet-4-6'], 'the next turn used the new model');
  t.equal(c2.costUsd, (50 * 3 + 10 * 15) / 1e6, 'claude-sonnet-4-6 at the shipped price');
  const ga = (await d.request('session/get', { sessionId: a.id })).session;
  t.match(ga, { usage: { inputTokens: 150, outputTokens: 30, cacheReadInputTokens: 1000, cacheCreationInputTokens: 200 }, context: { usedTokens: 50, windowTokens: 200000 } });
  t.equal(ga.costUsd, Math.round((haiku + (50 * 3 + 10 * 15) / 1e6) * 1e9) / 1e9);
  rec.note('anthropic session usage', { usage: ga.usage, costUsd: ga.costUsd, context: ga.context });

  // --- 250 messages: paging sees each exactly once; session/get is bounded
  const long = await d.request('session/create', { name: 'long one' });
  const t0 = Date.now();
  for (let i = 0; i < 125; i++) await d.request('session/message', { sessionId: long.id, content: `m${i}` });
  t.comment(`125 turns: ${Date.now() - t0} ms`);
  const got = await rec.call('get long', 'session/get', { sessionId: long.id });
  t.equal(got.result.messages.length, 50, 'session/get returns the newest 50');
  t.equal(got.result.messages.at(-1).content[0].text, 'Echo: m124', 'ending with the newest');
  t.equal(got.result.messagesCursor, got.result.messages[0].id, 'messagesCursor continues before the oldest returned');
  const ids: string[] = [];
  const pages: number[] = [];
  let before: string | null = null;
  for (let n = 0; n < 20; n++) {
    const page: Json = await d.request('session/messages', { sessionId: long.id, limit: 37, ...(before ? { before } : {}) });
    pages.push(page.messages.length);
    ids.unshift(...page.messages.map((m: Json) => m.id));
    before = page.nextCursor;
    if (!before) break;
    t.equal(before, page.messages[0].id, 'nextCursor is the oldest message of the page');
  }
  t.same(pages, [37, 37, 37, 37, 37, 37, 28], 'pages of 37, the oldest short');
  t.equal(ids.length, 250);
  t.equal(new Set(ids).size, 250, 'every message seen exactly once');
  const first = await d.request('session/messages', { sessionId: long.id, limit: 2, before: ids[2] });
  t.same(first, { messages: (await d.request('session/messages', { sessionId: long.id, limit: 200, before: ids[2] })).messages, nextCursor: null }, 'the oldest page has no cursor');
  t.same(first.messages.map((m: Json) => text(m)), ['m0', 'Echo: m0'], 'oldest first within a page');
  const dflt = await d.request('session/messages', { sessionId: long.id });
  t.equal(dflt.messages.length, 50, 'default limit 50');
  rec.note('page shape', pages);
  expectError(await rec.call('limit over 200', 'session/messages', { sessionId: long.id, limit: 201 }), -32602, 400, 'limit > 200');
  expectError(await rec.call('before unknown', 'session/messages', { sessionId: long.id, before: 'msg_nope' }), -32010, 404, 'unknown before');
  expectError(await rec.call('before of another session', 'session/messages', { sessionId: s.id, before: ids[0] }), -32010, 404, 'before of another session');
  expectError(await rec.call('messages of unknown session', 'session/messages', { sessionId: 'ses_nope' }), -32010, 404, 'unknown session');
  const short = await d.request('session/get', { sessionId: s.id });
  t.equal(short.messages.length, 6, 'a short session: every message');
  t.equal(short.messagesCursor, null, 'and no cursor');

  // --- fork at a middle message, then a turn on the fork leaves the source untouched
  const mid = ids[99];
  const fork = await rec.call('fork at the 100th message', 'session/fork', { sessionId: long.id, messageId: mid, name: 'the fork' });
  if (d.transport === 'rest') t.equal(fork.status, 201, 'fork → 201');
  const f = fork.result;
  t.match(f, { name: 'the fork', parentId: long.id, forkedFromMessageId: mid, workspaceRoot: long.workspaceRoot, provider: 'echo', model: 'echo', status: 'idle' });
  const fm = await d.request('session/messages', { sessionId: f.id, limit: 200 });
  t.equal(fm.messages.length, 100, 'the messages up to and including it');
  t.equal(text(fm.messages.at(-1)), 'Echo: m49');
  t.ok(fm.messages.every((m: Json) => m.sessionId === f.id && !ids.includes(m.id)), 'copies with their own ids');
  const fr = await d.request('session/message', { sessionId: f.id, content: 'on the fork' });
  t.equal(text(fr), 'Echo: on the fork');
  t.equal((await d.request('session/messages', { sessionId: f.id, limit: 200 })).messages.length, 102);
  const src = await d.request('session/get', { sessionId: long.id });
  t.equal(text(src.messages.at(-1)), 'Echo: m124', 'the source is untouched');
  t.same(src.messages.map((m: Json) => m.id), ids.slice(200), 'same messages');
  expectError(await rec.call('fork at an unknown message', 'session/fork', { sessionId: long.id, messageId: 'msg_nope' }), -32010, 404, 'fork unknown message');
  const whole = await d.request('session/fork', { sessionId: s.id });
  t.equal((await d.request('session/get', { sessionId: whole.id })).messages.length, 6, 'default: every message');
  t.equal(whole.name, 'Renamed', 'default name: the source\'s');
  t.equal(whole.model, 'echo-slow');

  // --- a fork while the source turn runs copies only completed messages
  const runningSession = await d.request('session/create', { name: 'running', model: 'echo-slow' });
  await d.subscribe(runningSession.id, runningSession.lastSeq);
  await d.request('session/message', { sessionId: runningSession.id, content: 'one two three four five six seven eight nine ten', async: true });
  await d.waitForEvent(runningSession.id, 'message.delta');
  const midTurn = await d.request('session/fork', { sessionId: runningSession.id, name: 'mid-turn' });
  const mt = await d.request('session/get', { sessionId: midTurn.id });
  t.same(mt.messages.map((m: Json) => [m.role, m.status]), [['user', 'complete']], 'the streaming assistant message is not copied');
  rec.note('mid-turn fork', mt.messages.map((m: Json) => [m.role, m.status, text(m)]));
  await d.request('session/cancel', { sessionId: runningSession.id });
  // A session/update while a turn runs is allowed.
  const deltas = d.events(runningSession.id).filter((e) => e.type === 'message.delta').length;
  await d.request('session/message', { sessionId: runningSession.id, content: 'a b c d e f g h', async: true });
  await waitNth(d, runningSession.id, 'message.delta', deltas + 1);
  const during = await d.call('session/update', { sessionId: runningSession.id, name: 'renamed mid-turn' });
  t.match(during.result, { name: 'renamed mid-turn', status: 'running' });
  rec.note('update while running', { name: during.result.name, status: during.result.status });
  await d.request('session/cancel', { sessionId: runningSession.id });
  t.equal((await d.request('session/get', { sessionId: runningSession.id })).session.name, 'renamed mid-turn', 'the turn ending does not undo the rename');

  // --- session/list: newest updated first, pages, search
  const all = await d.request('session/list', {});
  t.equal(all.nextCursor, null);
  const names = all.sessions.map((x: Json) => x.name);
  t.equal(names[0], 'renamed mid-turn', 'the most recently updated first');
  const seenIds: string[] = [];
  let cursor: string | null = null;
  for (let n = 0; n < 20; n++) {
    const page: Json = await d.request('session/list', { limit: 2, ...(cursor ? { cursor } : {}) });
    seenIds.push(...page.sessions.map((x: Json) => x.id));
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  t.same(seenIds, all.sessions.map((x: Json) => x.id), 'pages of 2 add up to the whole list');
  const found = await rec.call('search', 'session/list', { search: 'FORK' });
  t.same(found.result.sessions.map((x: Json) => x.name), ['the fork'], 'search: case-insensitive substring of the name');
  expectError(await rec.call('bad cursor', 'session/list', { cursor: 'garbage' }), -32602, 400, 'bad cursor');

  // --- permission/list: a pending approval, answered, then gone
  const p = await d.request('session/create', { name: 'perm', workspaceRoot: tempDir('agentd-ws-') });
  await d.subscribe(p.id, p.lastSeq);
  await d.request('session/message', { sessionId: p.id, content: '/tool write_file {"path":"a.txt","content":"x"}', async: true });
  const asked = await d.waitForEvent(p.id, 'permission.requested');
  const listed = await rec.call('permission/list', 'permission/list', { sessionId: p.id });
  t.same(listed.result.permissions.map((x: Json) => x.permissionId), [asked.data.permissionId]);
  t.match(listed.result.permissions[0], { sessionId: p.id, tool: 'write_file', input: { path: 'a.txt' }, turnId: asked.data.turnId, callId: asked.data.callId });
  t.ok(!Number.isNaN(Date.parse(listed.result.permissions[0].requestedAt)), 'requestedAt is a time');
  t.equal((await d.request('permission/list', {})).permissions.length, 1, 'without sessionId: every session');
  await d.request('tool/approve', { permissionId: asked.data.permissionId, toolName: 'write_file', decision: 'deny', reason: 'no' });
  const resolved = await d.waitForEvent(p.id, 'permission.resolved');
  t.match(resolved.data.by, { type: 'client', via: 'tool/approve', transport: d.transport }, 'permission.resolved says who answered');
  await d.waitForEvent(p.id, 'turn.completed');
  await rec.call('permission/list after', 'permission/list', { sessionId: p.id });
  expectError(await rec.call('permission/list of unknown session', 'permission/list', { sessionId: 'ses_nope' }), -32010, 404, 'unknown session');
};
