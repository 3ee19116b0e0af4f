// Team deployment: two `agentd serve` nodes on one PostgreSQL (a throwaway cluster). A session made
// on one is visible and resumable on the other; a turn's events on A reach a subscriber on B live,
// in order, without gap or duplicate; one turn per session across nodes (busy elsewhere); cancel
// from the other node; a kill -9'd node's turn is ended as interrupted by the survivor within its lease,
// at once by a node of the same machine (the dead pid).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { AGENTD, spawnHttp, tempDir, WsClient, type Json } from '../helpers/rpc-client.js';
import { start, TEST_ENV, textOf, type Running } from '../helpers/durability.js';
import { startPostgres } from '../helpers/postgres.js';
import pgLib from 'pg';

const pg = await startPostgres();
if ('skip' in pg) {
  t.plan(0, `skipped: ${pg.skip}`);
} else {
  t.teardown(() => pg.stop());

  /** A node on `url`; `leaseSeconds` goes in its config. */
  const node = async (url: string, leaseSeconds?: number, capabilities: Json = {}): Promise<Running> => {
    const dataDir = tempDir();
    if (leaseSeconds) writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ store: { leaseSeconds } }));
    const n = await start('websocket', dataDir, { args: ['--store', url] });
    await n.client.initialize(capabilities);
    return n;
  };

  const SESSION_ENDS = ['turn.completed', 'turn.cancelled', 'turn.failed', 'turn.interrupted'];

  t.test('two nodes on one database: visible, resumable, live across nodes, busy, cancel', async (t) => {
    const url = await pg.newDatabase();
    // Both start at once on an empty database: the migration runs once, under the advisory lock.
    const [a, b] = await Promise.all([node(url), node(url)]);
    t.teardown(async () => { await a.close(); await b.close(); });

    const s = await a.client.request('session/create', { name: 'team' });
    const onB = await b.client.request('session/get', { sessionId: s.id });
    t.equal(onB.session.id, s.id, 'a session made on A is visible on B');
    const listed = await b.client.request('session/list', {});
    t.ok(listed.sessions.some((x: Json) => x.id === s.id), 'and listed there');

    // Live from A to B: B subscribes, the turn runs on A.
    await b.client.request('session/subscribe', { sessionId: s.id });
    await a.client.request('session/subscribe', { sessionId: s.id });
    const reply = await a.client.request('session/message', { sessionId: s.id, content: 'one two three' });
    t.equal(textOf(reply), 'Echo: one two three');
    await b.client.waitForEvent('turn.completed', (e) => e.sessionId === s.id);
    const strip = (e: Json) => ({ id: e.id, seq: e.seq, type: e.type });
    const onA = a.client.events(s.id).map(strip);
    const seenB = b.client.events(s.id).map(strip);
    t.same(seenB, onA, 'B got exactly the events A did, in the same order');
    t.same(seenB.map((e) => e.seq), seenB.map((_, i) => seenB[0].seq + i), 'seqs contiguous: no gap, no duplicate');
    t.ok(seenB.some((e) => e.type === 'message.delta'), 'deltas crossed nodes');

    // Resumable on B, and both see the whole conversation.
    const again = await b.client.request('session/message', { sessionId: s.id, content: 'on b' });
    t.equal(textOf(again), 'Echo: on b', 'the session takes a message on the other node');
    const got = await a.client.request('session/get', { sessionId: s.id });
    t.equal(got.messages.length, 4, 'A sees the messages of the turn B ran');

    // Resubscribe with `since` on either node: the same history.
    const since = 2;
    for (const n of [a, b]) {
      const before = n.client.events(s.id).length;
      await n.client.request('session/subscribe', { sessionId: s.id, since });
      await n.client.waitFor(() => n.client.events(s.id).slice(before).some((e) => e.type === 'turn.completed' && e.seq > 12), 10_000, 'replay');
    }
    const replayA = a.client.events(s.id).filter((e) => e.seq > since).map(strip);
    t.ok(replayA.length > 0);

    // One turn per session across nodes: a slow turn on A, a message on B is refused as busy.
    const slowSession = await a.client.request('session/create', { name: 'slow', model: 'echo-slow' });
    await b.client.request('session/subscribe', { sessionId: slowSession.id });
    const slow = await a.client.request('session/message', { sessionId: slowSession.id, content: Array.from({ length: 200 }, (_, i) => `w${i}`).join(' '), async: true });
    await b.client.waitFor(() => b.client.events(slowSession.id).some((e) => e.type === 'turn.started' && e.data.turnId === slow.turnId), 10_000, 'turn started on A, seen on B');
    const busy = await b.client.call('session/message', { sessionId: slowSession.id, content: 'me too' });
    t.equal(busy.error?.code, -32011, 'a second message on the other node gets the busy error');

    // session/cancel on B cancels the turn running on A.
    await a.client.request('session/subscribe', { sessionId: slowSession.id });
    const cancelled = await b.client.request('session/cancel', { sessionId: slowSession.id });
    t.same(cancelled, { sessionId: slowSession.id, cancelled: true, turnId: slow.turnId }, 'cancel from B names the turn on A');
    const end = await a.client.waitForEvent('turn.cancelled', (e) => e.sessionId === slowSession.id && e.data.turnId === slow.turnId);
    t.ok(end, 'the turn on A ended as cancelled');
    const idle = await b.client.request('session/get', { sessionId: slowSession.id });
    t.equal(idle.session.status, 'idle', 'the session is idle on B after the cancel');
  });

  t.test('approvals across nodes: tool/approve on another node, a permission/request reply from another node, first answer wins', async (t) => {
    const url = await pg.newDatabase();
    const a = await node(url);
    const b = await node(url);
    const c = await node(url, undefined, { permissionRequests: true });
    t.teardown(async () => { await a.close(); await b.close(); await c.close(); });
    const workspaceRoot = tempDir();
    const s = await a.client.request('session/create', { name: 'approve', workspaceRoot });
    for (const n of [a, b]) await n.client.request('session/subscribe', { sessionId: s.id });
    const write = (name: string) => `/tool write_file ${JSON.stringify({ path: name, content: 'x' })}`;

    // The turn runs on A; B (no permission requests) answers with tool/approve.
    const one = await a.client.request('session/message', { sessionId: s.id, content: write('one.txt'), async: true });
    const asked = await b.client.waitForEvent('permission.requested', (e) => e.sessionId === s.id && e.data.turnId === one.turnId);
    const permissionId = asked.data.permissionId;
    const listed = await b.client.request('permission/list', { sessionId: s.id });
    t.same(listed.permissions.map((p: Json) => p.permissionId), [permissionId], 'B lists the pending permission of the turn on A');
    const answered = await b.client.request('tool/approve', { permissionId, decision: 'allow_once' });
    t.same(answered, { permissionId, decision: 'allow_once' }, 'B\'s answer is taken');
    const done = await a.client.waitForEvent('turn.completed', (e) => e.sessionId === s.id && e.data.turnId === one.turnId);
    t.ok(done, 'the turn on A went on');
    t.equal(readFileSync(join(workspaceRoot, 'one.txt'), 'utf8'), 'x', 'and the tool ran');
    const resolved = a.client.events(s.id).find((e) => e.type === 'permission.resolved' && e.data.permissionId === permissionId);
    t.match(resolved?.data, { decision: 'allow_once', by: { type: 'client', via: 'tool/approve' } }, 'resolved by the client on B');
    for (const n of [a, b]) {
      const again = await n.client.call('tool/approve', { permissionId, decision: 'deny' });
      t.equal(again.error?.code, -32012, 'a second answer, on either node, is a Conflict');
    }
    const left = await b.client.request('permission/list', { sessionId: s.id });
    t.same(left.permissions, [], 'nothing pending on B once answered');

    // A client on C that takes permission requests is asked, and its reply decides the turn on A.
    let askedC: Json | undefined;
    c.client.onServerRequest = (method, params) => {
      if (method !== 'permission/request') throw new Error(method);
      askedC = params;
      return { decision: 'deny', reason: 'not from C' };
    };
    await c.client.request('session/subscribe', { sessionId: s.id });
    const two = await a.client.request('session/message', { sessionId: s.id, content: write('two.txt'), async: true });
    const end = await a.client.waitForEvent('turn.completed', (e) => e.sessionId === s.id && e.data.turnId === two.turnId);
    t.ok(end);
    t.match(askedC, { sessionId: s.id, tool: 'write_file' }, 'C got the permission/request of the turn on A');
    const denied = a.client.events(s.id).find((e) => e.type === 'permission.resolved' && e.data.permissionId === askedC?.permissionId);
    t.match(denied?.data, { decision: 'deny', reason: 'not from C', by: { via: 'permission/request' } }, 'C\'s reply decided');
    t.notOk(existsSync(join(workspaceRoot, 'two.txt')), 'the denied write did not happen');
    const late = await b.client.call('tool/approve', { permissionId: askedC?.permissionId, decision: 'allow_once' });
    t.equal(late.error?.code, -32012, 'B answering after C is a Conflict: the first answer won');
  });

  t.test('config is shared through the database: an update on A applies on B and on a node started later', async (t) => {
    const url = await pg.newDatabase();
    const a = await node(url);
    const b = await node(url);
    t.teardown(async () => { await a.close(); await b.close(); });
    await b.client.request('session/subscribe', {});
    await a.client.request('config/update', { config: { approvals: { default: 'deny' }, limits: { maxSteps: 17 } } });
    await b.client.waitForEvent('config.updated');
    let onB: Json = {};
    for (let i = 0; i < 100 && onB.config?.limits?.maxSteps !== 17; i++) {
      onB = await b.client.request('config/get', {});
      if (onB.config?.limits?.maxSteps !== 17) await new Promise((r) => setTimeout(r, 100));
    }
    t.equal(onB.config?.limits?.maxSteps, 17, 'B adopts the config A stored');
    t.same(onB.config.approvals, { default: 'deny' }, 'with A\'s approvals default');
    await new Promise((r) => setTimeout(r, 300));
    t.equal(b.client.events().filter((e) => e.type === 'config.updated').length, 1, 'one config.updated event for one change, not one per node');
    const c = await node(url);
    t.teardown(() => c.close());
    const onC = await c.client.request('config/get', {});
    t.equal(onC.config.limits?.maxSteps, 17, 'a node started later adopts the shared config');
  });

  t.test('the all-sessions stream carries events of turns on the other node', async (t) => {
    const url = await pg.newDatabase();
    const a = await node(url);
    const b = await node(url);
    t.teardown(async () => { await a.close(); await b.close(); });
    await b.client.request('session/subscribe', {});
    const s = await a.client.request('session/create', { name: 'all' });
    await a.client.request('session/message', { sessionId: s.id, content: 'x y' });
    await b.client.waitForEvent('turn.completed', (e) => e.sessionId === s.id);
    const ids = b.client.events().map((e) => e.id);
    t.same(ids, [...ids].sort((x, y) => x - y), 'in id order');
    t.equal(new Set(ids).size, ids.length, 'no duplicate');
    t.ok(b.client.events().some((e) => e.type === 'session.created' && e.sessionId === s.id), 'session.created from A');
  });

  t.test('a subscriber replaying from 0 on B while A appends misses nothing and repeats nothing', async (t) => {
    const url = await pg.newDatabase();
    const a = await node(url);
    const b = await node(url);
    t.teardown(async () => { await a.close(); await b.close(); });
    const s = await a.client.request('session/create', { name: 'replay', model: 'echo-slow' });
    // Some history first, then a streaming turn while B replays.
    await a.client.request('session/message', { sessionId: s.id, content: Array.from({ length: 30 }, (_, i) => `h${i}`).join(' ') });
    const turn = await a.client.request('session/message', { sessionId: s.id, content: Array.from({ length: 40 }, (_, i) => `l${i}`).join(' '), async: true });
    await b.client.request('session/subscribe', { sessionId: s.id, since: 0 });
    const done = await b.client.waitForEvent('turn.completed', (e) => e.sessionId === s.id && e.data.turnId === turn.turnId, 30_000);
    const seqs = b.client.events(s.id).map((e) => e.seq);
    t.same(seqs, seqs.map((_, i) => i + 1), 'every seq from 1, once, in order');
    t.equal(seqs[seqs.length - 1], done.seq);
  });

  t.test('kill -9 of the node running a turn: the other ends it as interrupted within the lease', async (t) => {
    const url = await pg.newDatabase();
    const a = await node(url, 1);
    const b = await node(url, 1);
    t.teardown(async () => { await b.close(); });
    const s = await a.client.request('session/create', { name: 'crash', model: 'echo-slow' });
    await b.client.request('session/subscribe', { sessionId: s.id, since: 0 });
    const turn = await a.client.request('session/message', { sessionId: s.id, content: Array.from({ length: 200 }, (_, i) => `w${i}`).join(' '), async: true });
    await b.client.waitFor(() => b.client.events(s.id).filter((e) => e.type === 'message.delta').length >= 3, 10_000, 'deltas on B');
    const busy = await b.client.call('session/message', { sessionId: s.id, content: 'too early' });
    t.equal(busy.error?.code, -32011, 'busy while A lives');
    await a.kill9();
    const interrupted = await b.client.waitForEvent('turn.interrupted', (e) => e.sessionId === s.id, 20_000);
    t.equal(interrupted.data.turnId, turn.turnId, 'the survivor ended the dead node\'s turn');
    const seqs = b.client.events(s.id).map((e) => e.seq);
    t.same(seqs, seqs.map((_, i) => i + 1), 'no gap, no duplicate across the crash');
    const got = await b.client.request('session/get', { sessionId: s.id });
    t.equal(got.session.status, 'idle');
    const [user, assistant] = got.messages;
    t.equal(user.role, 'user', 'the user message is kept');
    t.equal(assistant.status, 'incomplete', 'the partial answer is kept as incomplete');
    const after = await b.client.request('session/message', { sessionId: s.id, content: 'after' });
    t.match(textOf(after), /after/, 'the session takes new messages');
    t.notOk(b.client.events(s.id).some((e) => SESSION_ENDS.includes(e.type) && e.data.turnId === turn.turnId && e.type !== 'turn.interrupted'), 'no other end for that turn');
  });

  t.test('a lost LISTEN connection is reopened: events of the other node keep coming, none missed, and commands reach it again', async (t) => {
    const url = await pg.newDatabase();
    const db = new pgLib.Client({ connectionString: url });
    await db.connect();
    t.teardown(() => db.end());
    const [a, b] = await Promise.all([node(url), node(url)]);
    t.teardown(async () => { await a.close(); await b.close(); });
    const s = await a.client.request('session/create', {});
    await b.client.request('session/subscribe', { sessionId: s.id });
    await a.client.request('session/message', { sessionId: s.id, content: 'before' });
    await b.client.waitForEvent('turn.completed', (e) => e.sessionId === s.id);

    // Every node's LISTEN connection dies (a database restart, a terminated backend).
    const killed = await db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'agentd listen'");
    t.equal(killed.rowCount, 2, 'both nodes\' LISTEN connections terminated');
    // A turn on A while B's connection is down or coming back: B, which appends nothing, still gets it all.
    await a.client.request('session/message', { sessionId: s.id, content: 'during the outage' });
    await b.client.waitFor(() => b.client.events(s.id).filter((e) => e.type === 'turn.completed').length === 2, 15_000, 'the second turn on B');
    const seqs = b.client.events(s.id).map((e) => e.seq);
    t.same(seqs, seqs.map((_, i) => seqs[0] + i), 'B\'s events contiguous: no gap, no duplicate');
    for (const n of [a, b]) await n.client.waitFor(() => /LISTEN connection restored/.test(n.stderr()), 15_000, 'restored');
    t.match(b.stderr(), /LISTEN connection lost/, 'the loss is logged');

    // Commands cross again: a cancel from B ends a turn running on A.
    const slow = await a.client.request('session/create', { model: 'echo-slow' });
    await a.client.request('session/subscribe', { sessionId: slow.id });
    const turn = await a.client.request('session/message', { sessionId: slow.id, content: Array.from({ length: 200 }, (_, i) => `w${i}`).join(' '), async: true });
    await a.client.waitFor(() => a.client.events(slow.id).some((e) => e.type === 'message.delta'), 10_000, 'deltas');
    const cancelled = await b.client.request('session/cancel', { sessionId: slow.id });
    t.same(cancelled, { sessionId: slow.id, cancelled: true, turnId: turn.turnId }, 'cancel from B reaches the turn on A');
    await a.client.waitForEvent('turn.cancelled', (e) => e.sessionId === slow.id);
  });

  t.test('the database unreachable: requests get StoreUnavailable (503), the node keeps running and recovers when it is back', async (t) => {
    const url = new URL(await pg.newDatabase());
    // The node reaches PostgreSQL through a TCP relay the test can cut (a network outage, a database restart).
    const sockets = new Set<Socket>();
    let up = true;
    const relay = createServer((client) => {
      if (!up) return client.destroy();
      const server = connect(Number(url.port), url.hostname);
      for (const [a, b] of [[client, server], [server, client]] as const) {
        sockets.add(a);
        a.on('error', () => b.destroy());
        a.on('close', () => { sockets.delete(a); b.destroy(); });
        a.pipe(b);
      }
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    t.teardown(() => relay.close());
    const relayed = `postgres://${url.username}@127.0.0.1:${(relay.address() as AddressInfo).port}${url.pathname}`;
    const server = await spawnHttp({ dataDir: tempDir(), args: ['--store', relayed], env: TEST_ENV });
    t.teardown(() => server.stop());
    const ws = await WsClient.connect(server.wsUrl);
    t.teardown(() => ws.close());
    await ws.initialize();
    const s = await ws.request('session/create', {});

    up = false;
    for (const sock of sockets) sock.destroy();
    for (const [method, params] of [['session/get', { sessionId: s.id }], ['session/create', {}], ['session/list', {}]] as const) {
      const r = await ws.call(method, params);
      t.equal(r.error?.code, -32026, `${method} while the database is away: StoreUnavailable (${JSON.stringify(r.error?.message)})`);
    }
    const rest = await fetch(`${server.url}/v1/session/${s.id}`);
    t.equal(rest.status, 503, 'REST: 503');
    t.equal((await rest.json()).error.code, -32026);
    t.notMatch(server.stderr(), /handler failed/, 'not logged as a bug');

    up = true;
    const until = Date.now() + 15_000;
    let back: Json = {};
    while (Date.now() < until && (back = await ws.call('session/get', { sessionId: s.id })).error) await new Promise((r) => setTimeout(r, 200));
    t.equal(back.result?.session.id, s.id, 'once it is back, the same connection is served again');
    const reply = await ws.request('session/message', { sessionId: s.id, content: 'after' });
    t.equal(textOf(reply), 'Echo: after', 'and turns run');
  });

  t.test('claimed approval answers and idempotency records expire: dropped at start and every housekeeping round', async (t) => {
    const url = await pg.newDatabase();
    const db = new pgLib.Client({ connectionString: url });
    await db.connect();
    t.teardown(() => db.end());
    const a = await start('websocket', tempDir(), { args: ['--store', url], env: { AGENTD_HOUSEKEEPING_MS: '300' } });
    t.teardown(() => a.close());
    await a.client.initialize({});
    const b = await node(url);
    t.teardown(() => b.close());

    // An answer given on B to a turn on A is claimed in the kv table, with its time.
    const s = await a.client.request('session/create', { workspaceRoot: tempDir() });
    await b.client.request('session/subscribe', { sessionId: s.id });
    const turn = await a.client.request('session/message', { sessionId: s.id, content: `/tool write_file ${JSON.stringify({ path: 'f.txt', content: 'x' })}`, async: true });
    const asked = await b.client.waitForEvent('permission.requested', (e) => e.sessionId === s.id && e.data.turnId === turn.turnId);
    await b.client.request('tool/approve', { permissionId: asked.data.permissionId, decision: 'allow_once' });
    await b.client.waitForEvent('turn.completed', (e) => e.sessionId === s.id);
    const claimed = await db.query<{ value: string }>("SELECT value FROM kv WHERE ns = 'permission-answer' AND key = $1", [asked.data.permissionId]);
    const at = JSON.parse(claimed.rows[0]?.value ?? '{}').at;
    t.ok(typeof at === 'number' && Math.abs(Date.now() - at) < 60_000, 'the claimed answer records when it was given');

    // Rows older than a day (or without a time, as earlier versions wrote them) go; recent ones stay.
    const day = 24 * 60 * 60 * 1000;
    await db.query(`INSERT INTO kv (ns, key, value) VALUES
      ('permission-answer', 'perm_old', $1), ('permission-answer', 'perm_untimed', $2), ('idempotency', 'old-key', $3)`,
    [JSON.stringify({ sessionId: s.id, answer: { decision: 'deny' }, at: Date.now() - day - 60_000 }), JSON.stringify({ sessionId: s.id, answer: { decision: 'deny' } }), JSON.stringify({ fp: 'x', at: Date.now() - day - 60_000, result: {} })]);
    const keys = async () => (await db.query<{ key: string }>("SELECT key FROM kv WHERE ns IN ('permission-answer', 'idempotency') ORDER BY key")).rows.map((r) => r.key);
    const expired = ['old-key', 'perm_old', 'perm_untimed'];
    const until = Date.now() + 10_000;
    while ((await keys()).some((k) => expired.includes(k)) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    t.same((await keys()).filter((k) => expired.includes(k)), [], 'dropped by the next housekeeping round');
    t.ok((await keys()).includes(asked.data.permissionId), 'the recent answer is kept');
  });

  t.test('a dead node of this machine is known at once by its pid; one elsewhere only by its lease', async (t) => {
    const url = await pg.newDatabase();
    const db = new pgLib.Client({ connectionString: url });
    await db.connect();
    t.teardown(() => db.end());
    /** A turn of a node with a 60 s lease that is then killed; returns the session and turn. */
    const crashed = async () => {
      const a = await node(url, 60);
      const s = await a.client.request('session/create', { model: 'echo-slow' });
      await a.client.request('session/subscribe', { sessionId: s.id });
      const turn = await a.client.request('session/message', { sessionId: s.id, content: Array.from({ length: 200 }, (_, i) => `w${i}`).join(' '), async: true });
      await a.client.waitFor(() => a.client.events(s.id).filter((e) => e.type === 'message.delta').length >= 3, 10_000, 'deltas');
      await a.kill9();
      return { s, turn };
    };

    // Same machine and pid namespace: the new node sees the pid is gone and recovers now, 60 s before the lease ends.
    const here = await crashed();
    const b = await node(url, 60);
    t.teardown(() => b.close());
    await b.client.request('session/subscribe', { sessionId: here.s.id, since: 0 });
    const interrupted = await b.client.waitForEvent('turn.interrupted', (e) => e.sessionId === here.s.id, 20_000);
    t.equal(interrupted.data.turnId, here.turn.turnId, 'recovered without waiting out the lease');
    t.match(textOf(await b.client.request('session/message', { sessionId: here.s.id, content: 'next' })), /next/, 'and the session takes messages');

    // A node that ran elsewhere (another machine's id on its row): only its lease tells, so its turn stays claimed.
    const there = await crashed();
    const { rows } = await db.query<{ owner_pid: number }>('SELECT owner_pid FROM sessions WHERE id = $1', [there.s.id]);
    await db.query("UPDATE nodes SET machine = 'another-host' WHERE id = $1", [rows[0].owner_pid]);
    const c = await node(url, 60);
    t.teardown(() => c.close());
    t.equal((await c.client.request('session/get', { sessionId: there.s.id })).session.status, 'running', 'still running after the start\'s recovery');
    t.equal((await c.client.call('session/message', { sessionId: there.s.id, content: 'x' })).error?.code, -32011, 'busy until the lease ends');
  });

  t.test('a NUL in an id or key (PostgreSQL text cannot hold one) is a typed refusal or a miss, never an internal error', async (t) => {
    const a = await node(await pg.newDatabase());
    t.teardown(() => a.close());
    const s = await a.client.request('session/create', {});
    for (const [method, params] of [
      ['session/get', { sessionId: 'ses_\u0000x' }],
      ['session/messages', { sessionId: '\u0000' }],
      ['session/delete', { sessionId: `${s.id}\u0000` }],
      ['session/subscribe', { sessionId: '\u0000', since: 0 }],
      ['tool/approve', { permissionId: 'perm_\u0000', decision: 'allow_once' }],
      ['session/fork', { sessionId: s.id, messageId: 'msg_\u0000' }],
    ] as const) {
      const r = await a.client.call(method, params);
      t.equal(r.error?.code, -32010, `${method}: not found`);
    }
    const keyed = await a.client.call('session/create', { name: 'k', idempotencyKey: 'k\u0000ey' });
    t.ok(!keyed.error || keyed.error.code === -32602, `an idempotency key with a NUL: taken or refused as invalid (${JSON.stringify(keyed.error ?? 'ok')})`);
    t.equal((await a.client.request('session/get', { sessionId: s.id })).session.id, s.id, 'the session is intact');
  });

  t.test('--store refuses what is neither sqlite nor a postgres URL', async (t) => {
    const r = spawnSync(process.execPath, [AGENTD, 'serve', '--stdio', '--data-dir', tempDir(), '--store', 'mysql://x'], { input: '', encoding: 'utf8', timeout: 20_000 });
    t.not(r.status, 0);
    t.match(r.stderr, /expected "sqlite" or a postgres:\/\/ URL/);
  });

  t.test('an unreachable database fails the start with a message', async (t) => {
    const r = spawnSync(process.execPath, [AGENTD, 'serve', '--stdio', '--data-dir', tempDir(), '--store', 'postgres://postgres@127.0.0.1:1/none'], { input: '', encoding: 'utf8', timeout: 40_000 });
    t.not(r.status, 0);
    t.match(r.stderr, /ECONNREFUSED|connect/i);
  });
}
