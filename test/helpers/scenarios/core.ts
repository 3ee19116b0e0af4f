// The core scenario, written once, over stdio, WebSocket and REST + SSE: sessions, a streamed
// turn, list/get, cancel, delete and the error cases. The transcripts must agree modulo ids and times.
// The scenario lives here so that test/conformance/core.test.ts runs it on SQLite and
// test/conformance/postgres.test.ts on PostgreSQL (one node, and two nodes on one database).
import { collapseDeltas, type Scenario } from '../conformance.js';
import type { Outcome } from '../driver.js';
import type { Json } from '../rpc-client.js';

const LONG = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');

export const core: Scenario = async (d, rec, t) => {
  const init = await d.initialize();
  if (init) t.equal(init.serverInfo.name, 'agentd');

  const expectError = (out: Outcome, code: number, status: number, what: string) => {
    t.equal(out.error?.code, code, `${what}: code ${code}`);
    if (d.transport === 'rest') t.equal(out.status, status, `${what}: HTTP ${status}`);
  };

  // Follow everything from the start (live), then create two sessions.
  await d.subscribe(null);
  const a = (await rec.call('create alpha', 'session/create', { name: 'alpha' })).result;
  const b = (await rec.call('create beta (echo-slow)', 'session/create', { name: 'beta', model: 'echo-slow' })).result;
  t.match(a, { name: 'alpha', provider: 'echo', model: 'echo', status: 'idle', lastSeq: 1 });
  t.match(b, { name: 'beta', model: 'echo-slow' });

  // A turn: the completed message, and its streamed deltas.
  await d.subscribe(a.id, a.lastSeq);
  const reply = await rec.call('message alpha', 'session/message', { sessionId: a.id, content: 'hello there world' });
  t.same(reply.result?.content, [{ type: 'text', text: 'Echo: hello there world' }]);
  await d.waitForEvent(a.id, 'turn.completed');
  const evA = d.events(a.id);
  rec.note('alpha events', evA);
  t.equal(evA.filter((e) => e.type === 'message.delta').map((e) => e.data.delta.text).join(''), 'Echo: hello there world', 'deltas add up to the reply');
  t.same(evA.map((e) => e.seq), evA.map((_, i) => 2 + i), 'seq 2, 3, ... without gaps');

  // list (newest first; sessions created in the same millisecond tie, so compare by name) and get.
  const list = await d.call('session/list', {});
  rec.note('list', list.result.sessions.slice().sort((x: Json, y: Json) => x.name.localeCompare(y.name)));
  await rec.call('get alpha', 'session/get', { sessionId: a.id });
  await rec.call('provider list', 'provider/list', {});
  await rec.call('tool list', 'tool/list', {});

  // Cancel: an async turn on echo-slow, busy while it runs, then cancelled part-way.
  await rec.call('cancel idle', 'session/cancel', { sessionId: b.id });
  await d.subscribe(b.id, b.lastSeq);
  const accepted = await rec.call('message beta async', 'session/message', { sessionId: b.id, content: LONG, async: true });
  if (d.transport === 'rest') t.equal(accepted.status, 202, 'Prefer: respond-async → 202');
  await d.waitForEvent(b.id, 'message.delta');
  const busy = await rec.call('message beta while busy', 'session/message', { sessionId: b.id, content: 'again' });
  expectError(busy, -32011, 409, 'busy');
  const cancelled = await rec.call('cancel beta', 'session/cancel', { sessionId: b.id });
  t.match(cancelled.result, { cancelled: true, turnId: accepted.result.turnId });
  await d.waitForEvent(b.id, 'turn.cancelled');
  const evB = d.events(b.id);
  rec.note('beta event types', collapseDeltas(evB.map((e) => e.type)));
  // How many deltas came before the cancel depends on timing (50 ms apart): its seq and id are not compared.
  const { id: _id, seq: _seq, ...cancelledEvent } = evB.find((e) => e.type === 'turn.cancelled')!;
  rec.note('beta turn.cancelled', cancelledEvent);
  const gotB = (await d.call('session/get', { sessionId: b.id })).result;
  const partial = gotB.messages[1];
  t.equal(partial.status, 'incomplete');
  const text = partial.content.map((p: Json) => p.text).join('');
  t.ok(text.length > 0 && `Echo: ${LONG}`.startsWith(text) && text.length < `Echo: ${LONG}`.length, 'partial output is kept');
  rec.note('get beta', { ...gotB, session: { ...gotB.session, lastSeq: '<after the partial output>' }, messages: gotB.messages.map((m: Json) => (m.role === 'assistant' ? { ...m, content: '<partial>' } : m)) });

  // The error cases.
  expectError(await rec.call('get unknown', 'session/get', { sessionId: 'ses_nope' }), -32010, 404, 'get unknown');
  expectError(await rec.call('message unknown', 'session/message', { sessionId: 'ses_nope', content: 'hi' }), -32010, 404, 'message unknown');
  expectError(await rec.call('create bad name', 'session/create', { name: 42 }), -32602, 400, 'bad name');
  expectError(await rec.call('message no content', 'session/message', { sessionId: a.id }), -32602, 400, 'no content');
  expectError(await rec.call('message empty content', 'session/message', { sessionId: a.id, content: '' }), -32602, 400, 'empty content');
  expectError(await rec.call('list extra field', 'session/list', { bogus: 'x' }), -32602, 400, 'extra field');
  expectError(await rec.call('get extra field', 'session/get', { sessionId: a.id, bogus: 'x' }), -32602, 400, 'extra field on get');
  expectError(await rec.call('tools of unknown session', 'tool/list', { sessionId: 'ses_nope' }), -32010, 404, 'tool/list unknown');

  // Delete, then it is gone; its stream saw session.deleted.
  await rec.call('delete alpha', 'session/delete', { sessionId: a.id });
  await d.waitForEvent(a.id, 'session.deleted');
  expectError(await rec.call('get deleted', 'session/get', { sessionId: a.id }), -32010, 404, 'get deleted');
  expectError(await rec.call('delete again', 'session/delete', { sessionId: a.id }), -32010, 404, 'delete again');
  rec.note('list after delete', (await d.call('session/list', {})).result.sessions.map((s: Json) => s.name));

  // The all-events stream saw both sessions, in order.
  await d.waitForEvent(null, 'session.deleted');
  const all = d.events(null);
  rec.note('all events', collapseDeltas(all.map((e) => `${e.type} ${e.sessionId === a.id ? 'alpha' : e.sessionId === b.id ? 'beta' : e.sessionId}`)));
  const ids = all.map((e) => e.id);
  t.same(ids, [...ids].sort((x, y) => x - y), 'the all-events stream is in id order');
  t.equal(new Set(ids).size, ids.length, 'no duplicates');
};
