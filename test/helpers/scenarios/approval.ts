// Approvals over stdio, WebSocket and REST + SSE, answered with tool/approve (the way every
// transport can): allow once, allow always, deny with a reason, timeout, a policy deny rule,
// answering twice, unknown ids. MCP tools (server-everything) ask by default. Transcripts agree.
// The scenario lives here so that test/conformance/approval.test.ts runs it on SQLite and
// test/conformance/postgres.test.ts on PostgreSQL (one node, and two nodes on one database).
import { collapseDeltas, type Scenario } from '../conformance.js';
import type { Driver, Outcome } from '../driver.js';
import { everythingStdio } from '../mcp.js';
import type { Json } from '../rpc-client.js';

const ECHO = 'mcp__everything__echo';

export const approvals: Scenario = async (d, rec, t) => {
  await d.initialize();
  const expectError = (out: Outcome, code: number, status: number, what: string) => {
    t.equal(out.error?.code, code, `${what}: code ${code}`);
    if (d.transport === 'rest') t.equal(out.status, status, `${what}: HTTP ${status}`);
  };
  await rec.call('configure', 'config/update', { config: { mcpServers: { everything: everythingStdio() }, approvals: { rules: [{ tool: 'mcp__everything__get-sum', action: 'deny' }] } } });
  const connected = await rec.call('connect everything', 'mcp/connect', { name: 'everything' });
  t.equal(connected.result?.server.status, 'connected');

  const s = (await d.request('session/create', { name: 'approvals' }));
  await d.subscribe(s.id, s.lastSeq);
  const text = async () => {
    const got = await d.request('session/get', { sessionId: s.id });
    return got.messages.at(-1).content.map((c: Json) => c.text ?? '').join('');
  };
  let turns = 0;
  /** Sends `/tool` asynchronously and waits for its permission.requested. */
  const askFor = async (input: Json) => {
    const n = d.events(s.id).filter((e) => e.type === 'permission.requested').length;
    await d.request('session/message', { sessionId: s.id, content: `/tool ${ECHO} ${JSON.stringify(input)}`, async: true });
    return waitNth(d, s.id, 'permission.requested', n + 1);
  };
  const turnDone = async () => { turns++; await waitNth(d, s.id, 'turn.completed', turns); };

  // allow_once
  const p1 = await askFor({ message: 'one' });
  rec.note('permission.requested', p1.data);
  await rec.call('approve allow_once', 'tool/approve', { permissionId: p1.data.permissionId, toolName: ECHO, decision: 'allow_once' });
  await turnDone();
  t.equal(await text(), 'Tool result: Echo: one');
  rec.note('reply after allow_once', await text());
  expectError(await rec.call('approve twice', 'tool/approve', { permissionId: p1.data.permissionId, toolName: ECHO, decision: 'deny' }), -32012, 409, 'answered twice');

  // deny with a reason: the model gets it and the turn continues
  const p2 = await askFor({ message: 'two' });
  expectError(await rec.call('approve with the wrong tool', 'tool/approve', { permissionId: p2.data.permissionId, toolName: 'run_command', decision: 'allow_once' }), -32602, 400, 'wrong tool');
  await rec.call('approve deny', 'tool/approve', { permissionId: p2.data.permissionId, toolName: ECHO, decision: 'deny', reason: 'not today' });
  await turnDone();
  t.equal(await text(), `Tool error: Permission denied: the user denied ${ECHO}: not today`);
  rec.note('reply after deny', await text());

  // allow_always: remembered in the session, the next call asks nobody
  const p3 = await askFor({ message: 'three' });
  await rec.call('approve allow_always', 'tool/approve', { permissionId: p3.data.permissionId, toolName: ECHO, decision: 'allow_always' });
  await turnDone();
  await rec.call('message after allow_always', 'session/message', { sessionId: s.id, content: `/tool ${ECHO} {"message":"four"}` });
  turns++;
  await waitNth(d, s.id, 'turn.completed', turns);
  t.equal(await text(), 'Tool result: Echo: four');
  rec.note('session policy', (await d.request('session/get', { sessionId: s.id })).session.policy);

  // a policy deny rule asks nobody
  await rec.call('denied by policy', 'session/message', { sessionId: s.id, content: '/tool mcp__everything__get-sum {"a":1,"b":2}' });
  turns++;
  await waitNth(d, s.id, 'turn.completed', turns);
  t.match(await text(), /^Tool error: Permission denied by rule/);
  t.equal(d.events(s.id).filter((e) => e.type === 'permission.requested').length, 3, 'three questions: once, deny, always');
  rec.note('session event types', collapseDeltas(d.events(s.id).map((e) => e.type)));
  const resolutions = d.events(s.id).filter((e) => e.type === 'permission.resolved').map((e) => e.data);
  // Who answered: this transport's connection (its name and id differ between transports, so they are checked here, not compared).
  for (const r of resolutions) t.match(r.by, { type: 'client', via: 'tool/approve', transport: d.transport, connectionId: /^peer_\d+$/ });
  rec.note('resolutions', resolutions.map(({ by, ...r }: Json) => ({ ...r, by: { type: by.type, via: by.via } })));

  // no answer: the session's timeout denies
  const quick = await d.request('session/create', { name: 'quick', policy: { timeoutMs: 300 } });
  await d.subscribe(quick.id, quick.lastSeq);
  await d.request('session/message', { sessionId: quick.id, content: `/tool ${ECHO} {"message":"late"}`, async: true });
  await d.waitForEvent(quick.id, 'turn.completed');
  rec.note('timeout resolution', d.events(quick.id).find((e) => e.type === 'permission.resolved').data);
  rec.note('reply after timeout', (await d.request('session/get', { sessionId: quick.id })).messages.at(-1).content);
  expectError(await rec.call('approve unknown', 'tool/approve', { permissionId: 'perm_nope', toolName: ECHO, decision: 'allow_once' }), -32010, 404, 'unknown permission');
};

async function waitNth(d: Driver, sessionId: string, type: string, n: number): Promise<Json> {
  await d.waitForEvent(sessionId, type, () => d.events(sessionId).filter((e) => e.type === type).length >= n, 15_000);
  return d.events(sessionId).filter((e) => e.type === type)[n - 1];
}
