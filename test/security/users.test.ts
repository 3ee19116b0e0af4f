// Two users on one deployment: each API key belongs to a user; a user sees, subscribes to and
// drives only their own sessions and those shared with them (every session-scoped method of the
// manifest and every REST route tried, so new ones are covered as they are added); the
// all-sessions stream carries only what the key may see; sharing gives access, unsharing takes
// it away (an open subscription included); config writes and key management need an admin key.
// Runs on SQLite and, when a throwaway PostgreSQL cluster starts, on PostgreSQL.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { methodTable, restMethods, type ClientRequestName } from '../../protocol/index.js';
import { schemaBundle } from '../../protocol/generated/schema.js';
import { AGENTD, spawnHttp, tempDir, WsClient, type HttpServer, type Json } from '../helpers/rpc-client.js';
import { startPostgres } from '../helpers/postgres.js';

const NOT_FOUND = -32010;
const FORBIDDEN = -32014;
const INVALID_PARAMS = -32602;

const cli = (dataDir: string, store: string[], ...args: string[]) =>
  spawnSync(process.execPath, [AGENTD, ...args, '--data-dir', dataDir, ...store], { encoding: 'utf8', env: { ...process.env, AGENTD_LOG_LEVEL: 'warn' } });

function createKey(dataDir: string, store: string[], name: string, user?: string, admin = false): string {
  const r = cli(dataDir, store, 'key', 'create', '--name', name, ...(user ? ['--user', user] : []), ...(admin ? ['--admin'] : []), '--json');
  if (r.status !== 0) throw new Error(`key create failed: ${r.stderr}`);
  return JSON.parse(r.stdout).key;
}

type Def = { properties?: Record<string, { type?: string | string[]; $ref?: string }>; required?: string[] };
const defs = schemaBundle.definitions as unknown as Record<string, Def>;

/** Params that pass validation, for a method whose params name a session. */
const SAMPLES: Partial<Record<ClientRequestName, Json>> = {
  'session/message': { content: 'hello' },
  'session/update': { name: 'renamed' },
  'session/revert': { messageId: 'msg_nope' },
  'session/share': { user: 'bob' },
  'session/unshare': { user: 'bob' },
  'session/mcp': { servers: {} },
  'mcp/resource/read': { name: 'nope', uri: 'file:///nope' },
};
function paramsFor(method: ClientRequestName, sessionId: string): Json {
  const def = defs[methodTable[method].params];
  const p: Json = { ...SAMPLES[method], sessionId };
  for (const k of def.required ?? []) {
    if (k in p) continue;
    const type = ([] as string[]).concat(def.properties?.[k]?.type ?? 'string')[0];
    p[k] = type === 'integer' || type === 'number' ? 1 : type === 'boolean' ? false : type === 'object' ? {} : type === 'array' ? [] : 'x';
  }
  return p;
}

/** Every client request whose params carry a `sessionId` (from the manifest). */
const sessionScoped = (Object.keys(methodTable) as ClientRequestName[]).filter((m) => {
  const e = methodTable[m];
  return e.kind === 'request' && e.direction === 'clientToServer' && defs[e.params]?.properties?.sessionId !== undefined;
});
/** Answers only about the connection's own state (an unknown session gives the same answer). */
const OWN_STATE = new Set<string>(['session/unsubscribe']);

interface Rest { status: number; json: Json }
function restClient(url: string, key: string) {
  return async (method: string, path: string, body?: unknown): Promise<Rest> => {
    const res = await fetch(`${url}${path}`, {
      method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
}

/** An SSE stream of /v1/events, collecting the events' data. */
async function sse(url: string, key: string, since?: number) {
  const ctl = new AbortController();
  const res = await fetch(`${url}/v1/events${since === undefined ? '' : `?since=${since}`}`, { headers: { authorization: `Bearer ${key}` }, signal: ctl.signal });
  const events: Json[] = [];
  let buf = '';
  const reader = res.body!.getReader();
  void (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buf += Buffer.from(value).toString();
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        if (data) events.push(JSON.parse(data.slice(6)));
      }
    }
  })().catch(() => {});
  const waitFor = async (pred: (e: Json) => boolean, what: string) => {
    for (let n = 0; n < 200; n++) {
      if (events.some(pred)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`SSE: timed out waiting for ${what}`);
  };
  return { status: res.status, events, waitFor, close: () => ctl.abort() };
}

async function connect(server: HttpServer, key: string) {
  const c = await WsClient.connect(server.wsUrl, { headers: { authorization: `Bearer ${key}` } });
  await c.initialize({ permissionRequests: true });
  return c;
}

/** A round trip: every frame the server wrote to this connection before it answered has arrived. */
const sync = (c: WsClient) => c.request('session/list', { limit: 1 });

async function twoUsers(t: Test, store: string[]) {
  const dataDir = tempDir();
  const workspace = tempDir('agentd-users-ws-');
  const aliceKey = createKey(dataDir, store, 'alice-laptop', 'alice');
  const bobKey = createKey(dataDir, store, 'bob-laptop', 'bob');
  const rootKey = createKey(dataDir, store, 'ops', 'root', true);
  const server = await spawnHttp({ dataDir, args: store });
  t.teardown(() => server.stop());
  const alice = await connect(server, aliceKey);
  const bob = await connect(server, bobKey);
  const root = await connect(server, rootKey);
  t.teardown(async () => { await alice.close(); await bob.close(); await root.close(); });
  const aliceRest = restClient(server.url, aliceKey);
  const bobRest = restClient(server.url, bobKey);

  await alice.request('session/subscribe', {});
  await bob.request('session/subscribe', {});
  const bobSse = await sse(server.url, bobKey);
  t.teardown(() => bobSse.close());
  t.equal(bobSse.status, 200);

  const a = await alice.request('session/create', { name: 'alice-work', workspaceRoot: workspace });
  const b = await bob.request('session/create', { name: 'bob-work', workspaceRoot: workspace });
  t.equal(a.owner, 'alice', 'a session belongs to the user who created it');
  t.equal(b.owner, 'bob');
  t.notOk('sharedWith' in a, 'not shared yet');
  await alice.request('session/message', { sessionId: a.id, content: 'alice secret' });
  await bob.request('session/message', { sessionId: b.id, content: 'bob secret' });

  t.test('session/list shows each user only their own', async (t) => {
    t.same((await alice.request('session/list', {})).sessions.map((s: Json) => s.id), [a.id]);
    t.same((await bob.request('session/list', {})).sessions.map((s: Json) => s.id), [b.id]);
    t.same((await bobRest('GET', '/v1/session')).json.sessions.map((s: Json) => s.id), [b.id]);
    t.same((await bob.request('session/list', { search: 'alice' })).sessions, []);
    // Paging over sessions the user may not see still reaches every visible one.
    const more = [];
    for (let i = 0; i < 3; i++) more.push((await alice.request('session/create', { name: `alice-${i}`, workspaceRoot: workspace })).id);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await bob.request('session/list', { limit: 1, ...(cursor ? { cursor } : {}) });
      seen.push(...page.sessions.map((s: Json) => s.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    t.same(seen, [b.id], 'pages of one: only bob\'s');
    for (const id of more) await alice.request('session/delete', { sessionId: id });
  });

  t.test('every session-scoped method: another user\'s session is not found, like one that does not exist', async (t) => {
    t.ok(sessionScoped.length >= 20, `the manifest names ${sessionScoped.length} session-scoped methods`);
    for (const method of sessionScoped) {
      const theirs = await bob.call(method, paramsFor(method, a.id));
      const none = await bob.call(method, paramsFor(method, 'ses_doesnotexist'));
      if (OWN_STATE.has(method)) {
        t.same(theirs, { ...none, id: theirs.id }, `${method}: the same answer as for an unknown session`);
        continue;
      }
      t.equal(theirs.error?.code, NOT_FOUND, `${method}: NotFound (${theirs.error?.message ?? JSON.stringify(theirs.result)})`);
      t.same(theirs.error?.data, { kind: 'session', id: a.id }, `${method}: names the session as not found`);
      t.equal(none.error?.code, NOT_FOUND, `${method}: an unknown session is NotFound too`);
    }
    // Nothing happened to alice's session.
    const got = await alice.request('session/get', { sessionId: a.id });
    t.equal(got.session.name, 'alice-work');
    t.equal(got.messages.length, 2, 'no message was sent, nothing reverted or compacted');
  });

  t.test('every REST route naming a session: 404 with NotFound', async (t) => {
    const routes = restMethods.filter((m) => sessionScoped.includes(m));
    t.ok(routes.length >= 15, `${routes.length} routes`);
    for (const method of routes) {
      const { rest } = methodTable[method];
      const params = paramsFor(method, a.id);
      let path = rest.path;
      for (const [k, v] of Object.entries(params)) {
        if (path.includes(`{${k}}`)) { path = path.replace(`{${k}}`, encodeURIComponent(String(v))); delete params[k]; }
      }
      const query = rest.method === 'GET' || rest.method === 'DELETE';
      const qs = query ? `?${new URLSearchParams(Object.entries(params).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))}` : '';
      const r = await bobRest(rest.method, path + qs, query ? undefined : params);
      t.equal(r.status, 404, `${rest.method} ${rest.path}: 404`);
      t.equal(r.json?.error?.code, NOT_FOUND, `${rest.method} ${rest.path}: NotFound`);
    }
    const stream = await fetch(`${server.url}/v1/session/${a.id}/events`, { headers: { authorization: `Bearer ${bobKey}` } });
    t.equal(stream.status, 404, 'the session\'s SSE stream: 404');
    t.equal((await stream.json()).error.code, NOT_FOUND);
  });

  t.test('approvals of a session only by users who may drive it', async (t) => {
    await alice.request('session/message', { sessionId: a.id, content: '/tool run_command {"command":"echo hi"}', async: true });
    const asked = await alice.waitFor(() => alice.serverRequests.find((r) => r.method === 'permission/request' && r.params.sessionId === a.id), 10_000, 'permission/request');
    const permissionId = asked.params.permissionId;
    await sync(bob);
    t.notOk(bob.serverRequests.some((r) => r.method === 'permission/request'), 'bob, subscribed to all, is not asked');
    const denied = await bob.call('tool/approve', { permissionId, toolName: 'run_command', decision: 'allow_once' });
    t.equal(denied.error?.code, NOT_FOUND, 'tool/approve of another user\'s permission: NotFound');
    t.same(denied.error?.data, { kind: 'permission', id: permissionId });
    const restApprove = await bobRest('POST', '/v1/tool/run_command/approve', { permissionId, decision: 'allow_once' });
    t.equal(restApprove.status, 404, 'REST approve: 404');
    t.same((await bob.request('permission/list', {})).permissions, [], 'bob lists no permission of alice\'s');
    t.equal((await bobRest('GET', '/v1/permission')).json.permissions.length, 0);
    t.equal((await alice.request('permission/list', {})).permissions.length, 1, 'alice sees hers');
    await alice.request('tool/approve', { permissionId, toolName: 'run_command', decision: 'deny', reason: 'test' });
    await alice.waitFor(() => alice.events(a.id).filter((e) => e.type === 'turn.completed' || e.type === 'turn.failed').length >= 2, 10_000, 'the tool turn ended');
    const again = await bob.call('tool/approve', { permissionId, toolName: 'run_command', decision: 'deny' });
    t.equal(again.error?.code, NOT_FOUND, 'a resolved permission of another user\'s session: NotFound, not Conflict');
  });

  t.test('the all-sessions stream carries only what the key may see', async (t) => {
    // A marker in bob's session: everything before it has reached bob's streams.
    const marker = await bob.request('session/update', { sessionId: b.id, name: 'bob-marker' });
    await bob.waitForEvent('session.updated', (e) => e.sessionId === b.id && e.data.session.name === 'bob-marker');
    await bobSse.waitFor((e) => e.sessionId === b.id && e.type === 'session.updated' && e.data.session.name === 'bob-marker', 'marker');
    await sync(alice);
    const bobSees = new Set(bob.events().map((e) => e.sessionId));
    t.same([...bobSees].filter((s) => s !== null), [b.id], 'bob\'s WebSocket: only bob\'s session');
    t.ok(bob.events().length >= 5, 'and bob\'s own events arrive');
    t.same([...new Set(bobSse.events.map((e) => e.sessionId))].filter((s) => s !== null), [b.id], 'bob\'s SSE: only bob\'s session');
    t.notOk(alice.events().some((e) => e.sessionId === b.id), 'alice\'s: nothing of bob\'s');
    t.ok(alice.events().some((e) => e.sessionId === a.id), 'but her own');
    // A replay from the start filters the stored events the same way.
    const replay = await sse(server.url, bobKey, 0);
    await replay.waitFor((e) => e.sessionId === b.id && e.type === 'session.updated' && e.data.session.name === 'bob-marker', 'replayed marker');
    replay.close();
    t.same([...new Set(replay.events.map((e) => e.sessionId))].filter((s) => s !== null), [b.id], 'replay since 0: only bob\'s');
    const wsReplay = await connect(server, bobKey);
    await wsReplay.request('session/subscribe', { since: 0 });
    await wsReplay.waitForEvent('session.updated', (e) => e.sessionId === b.id && e.data.session.name === 'bob-marker');
    t.same([...new Set(wsReplay.events().map((e) => e.sessionId))].filter((s) => s !== null), [b.id], 'WebSocket replay since 0: only bob\'s');
    await wsReplay.close();
    t.ok(marker.lastSeq > 0);
  });

  t.test('hostile share params get typed errors', async (t) => {
    const code = async (c: WsClient, params: Json, method = 'session/share') => (await c.call(method, params)).error?.code;
    t.equal(await code(alice, { sessionId: a.id, user: '' }), INVALID_PARAMS, 'empty user');
    t.equal(await code(alice, { sessionId: a.id, user: 'x'.repeat(100_000) }), INVALID_PARAMS, 'huge user');
    t.equal(await code(alice, { sessionId: a.id, user: 'bo\u0000b' }), INVALID_PARAMS, 'NUL in the user');
    t.equal(await code(alice, { sessionId: a.id, user: 'bob\n' }), INVALID_PARAMS, 'newline in the user');
    t.equal(await code(alice, { sessionId: a.id, user: '../root' }), INVALID_PARAMS, 'path-like user');
    t.equal(await code(alice, { sessionId: a.id, user: 42 }), INVALID_PARAMS, 'not a string');
    t.equal(await code(alice, { sessionId: a.id }), INVALID_PARAMS, 'no user');
    t.equal(await code(alice, { sessionId: a.id, user: 'bob', extra: 1 }), INVALID_PARAMS, 'unknown field');
    const nobody = await alice.call('session/share', { sessionId: a.id, user: 'nobody' });
    t.equal(nobody.error?.code, NOT_FOUND, 'a user no key belongs to: NotFound');
    t.same(nobody.error?.data, { kind: 'user', id: 'nobody' });
    t.equal(await code(alice, { sessionId: a.id, user: 'alice' }), INVALID_PARAMS, 'sharing with yourself (the owner)');
    t.equal(await code(alice, { sessionId: a.id, user: 'alice' }, 'session/unshare'), INVALID_PARAMS, 'unsharing yourself (the owner)');
    t.equal(await code(bob, { sessionId: a.id, user: 'bob' }), NOT_FOUND, 'sharing a session of another user with yourself: NotFound');
    t.equal(await code(bob, { sessionId: a.id, user: 'root' }), NOT_FOUND, 'sharing a session you cannot see: NotFound');
    const rest = await aliceRest('POST', `/v1/session/${a.id}/share`, { user: 'x\u0007y' });
    t.equal(rest.status, 400, 'REST: 400 for a control character');
    t.same((await alice.request('session/get', { sessionId: a.id })).session.sharedWith, undefined, 'still shared with nobody');
    const cliBad = cli(dataDir, store, 'key', 'create', '--name', 'bad', '--user', 'a\tb');
    t.equal(cliBad.status, 2, 'key create with a control character in --user: usage error');
    t.equal(cli(dataDir, store, 'key', 'create', '--name', 'bad', '--user', '').status, 2, 'empty --user: usage error');
  });

  t.test('sharing gives access, unsharing takes it away', async (t) => {
    const shared = await alice.request('session/share', { sessionId: a.id, user: 'bob' });
    t.same(shared, { sessionId: a.id, owner: 'alice', sharedWith: ['bob'] });
    t.same(await alice.request('session/share', { sessionId: a.id, user: 'bob' }), shared, 'sharing twice changes nothing');
    // Bob's open all-sessions subscription learns of it and receives the session's events from now on.
    await bob.waitForEvent('session.updated', (e) => e.sessionId === a.id && e.data.changed?.includes('sharedWith'));
    t.same((await bob.request('session/list', {})).sessions.map((s: Json) => s.id).sort(), [a.id, b.id].sort(), 'bob lists it');
    t.equal((await bobRest('GET', `/v1/session/${a.id}`)).status, 200, 'REST get');
    const got = await bob.request('session/get', { sessionId: a.id });
    t.same(got.session.sharedWith, ['bob']);
    t.ok(got.messages.some((m: Json) => JSON.stringify(m.content).includes('alice secret')), 'bob reads its messages');
    await bob.request('session/subscribe', { sessionId: a.id });
    // Bob drives it: a message, and an approval in it.
    const reply = await bob.request('session/message', { sessionId: a.id, content: 'from bob' });
    t.equal(reply.message?.role ?? reply.role ?? 'assistant', 'assistant');
    await bob.request('session/message', { sessionId: a.id, content: '/tool run_command {"command":"echo shared"}', async: true });
    const asked = await bob.waitFor(() => bob.serverRequests.find((r) => r.method === 'permission/request' && r.params.sessionId === a.id), 10_000, 'bob is asked now');
    t.same(await bob.request('tool/approve', { permissionId: asked.params.permissionId, toolName: 'run_command', decision: 'deny' }), { permissionId: asked.params.permissionId, decision: 'deny' }, 'bob answers it');
    await bob.waitFor(() => bob.events(a.id).some((e) => e.type === 'permission.resolved' && e.data.permissionId === asked.params.permissionId), 10_000, 'resolved');
    await alice.waitFor(() => alice.events(a.id).filter((e) => e.type === 'turn.completed' || e.type === 'turn.failed').length >= 4, 10_000, 'turns done');
    // Still the owner's: a user it is shared with may not delete it or share it on.
    t.equal((await bob.call('session/delete', { sessionId: a.id })).error?.code, FORBIDDEN, 'delete: Forbidden');
    t.equal((await bob.call('session/share', { sessionId: a.id, user: 'root' })).error?.code, FORBIDDEN, 'share on: Forbidden');
    t.equal((await bob.call('session/unshare', { sessionId: a.id, user: 'bob' })).error?.code, FORBIDDEN, 'unshare: only the owner');
    t.equal((await bobRest('POST', `/v1/session/${a.id}/share`, { user: 'root' })).status, 403, 'REST share on: 403');
    const fork = await bob.request('session/fork', { sessionId: a.id });
    t.equal(fork.owner, 'bob', 'a fork belongs to its maker');

    const unshared = await aliceRest('POST', `/v1/session/${a.id}/unshare`, { user: 'bob' });
    t.equal(unshared.status, 200);
    t.same(unshared.json, { sessionId: a.id, owner: 'alice', sharedWith: [] });
    await sync(bob);
    const before = bob.events(a.id).length;
    const sseBefore = bobSse.events.filter((e) => e.sessionId === a.id).length;
    await alice.request('session/message', { sessionId: a.id, content: 'after unshare' });
    await alice.request('session/update', { sessionId: a.id, name: 'alice-after' });
    // A marker in bob's own session orders the check after alice's events on bob's streams.
    await bob.request('session/update', { sessionId: b.id, name: 'bob-marker-2' });
    await bob.waitForEvent('session.updated', (e) => e.sessionId === b.id && e.data.session.name === 'bob-marker-2');
    await bobSse.waitFor((e) => e.sessionId === b.id && e.data?.session?.name === 'bob-marker-2', 'marker 2');
    t.equal(bob.events(a.id).length, before, 'bob\'s open subscriptions (all and the session\'s) receive nothing of it any more');
    t.equal(bobSse.events.filter((e) => e.sessionId === a.id).length, sseBefore, 'nor his open SSE stream');
    t.ok(bobSse.events.some((e) => e.sessionId === a.id), 'while shared, the SSE stream had carried it');
    t.equal((await bob.call('session/get', { sessionId: a.id })).error?.code, NOT_FOUND, 'get: NotFound again');
    t.equal((await bob.call('session/message', { sessionId: a.id, content: 'x' })).error?.code, NOT_FOUND, 'message: NotFound again');
    t.same((await bob.request('session/list', {})).sessions.map((s: Json) => s.id).sort(), [b.id, fork.id].sort(), 'bob lists his own and his fork');
  });

  t.test('config writes and key management need an admin key', async (t) => {
    for (const [method, params] of [['config/update', { config: {} }], ['config/trust', { hash: 'x' }], ['key/list', {}], ['key/create', { name: 'mine', user: 'bob', admin: true }], ['key/revoke', { id: 'alice-laptop' }], ['provider/auth', { providerId: 'anthropic', apiKey: 'sk-x' }]] as const) {
      const r = await bob.call(method, params);
      t.equal(r.error?.code, FORBIDDEN, `${method}: Forbidden for a non-admin key`);
    }
    t.equal((await bobRest('PUT', '/v1/config', { config: {} })).status, 403, 'PUT /v1/config: 403');
    t.equal((await bobRest('GET', '/v1/key')).status, 403, 'GET /v1/key: 403');
    t.equal((await bobRest('POST', '/v1/key', { name: 'k', user: 'bob' })).status, 403, 'POST /v1/key: 403');
    t.equal((await bobRest('DELETE', '/v1/key/alice-laptop')).status, 403);
    t.ok((await bob.request('config/get', {})).config, 'reading the config is fine');
    // The admin key does all of it.
    const keys = (await root.request('key/list', {})).keys;
    t.same(keys.map((k: Json) => [k.name, k.user, k.admin]), [['alice-laptop', 'alice', false], ['bob-laptop', 'bob', false], ['ops', 'root', true]]);
    t.notOk(JSON.stringify(keys).includes(aliceKey), 'never a secret');
    const carol = await root.request('key/create', { name: 'carol-laptop', user: 'carol' });
    t.match(carol, { user: 'carol', admin: false, key: /^agentd_/ });
    const carolWs = await connect(server, carol.key);
    t.same((await carolWs.request('session/list', {})).sessions, [], 'carol sees nothing of alice\'s or bob\'s');
    t.equal((await root.call('key/create', { name: 'x\u0000', user: 'carol' })).error?.code, INVALID_PARAMS, 'control character in a key name');
    t.equal((await root.call('key/create', { name: 'x', user: '' })).error?.code, INVALID_PARAMS, 'empty user');
    const carolClosed = new Promise<number>((r) => carolWs.ws.once('close', (code) => r(code)));
    t.same(await root.request('key/revoke', { id: 'carol-laptop' }), { revoked: 1 });
    // Either the per-request check answers, or the revocation watch closed the connection first (4001).
    const afterRevoke = await Promise.race([carolWs.call('session/list', {}), carolClosed.then(() => undefined)]);
    if (afterRevoke) t.equal(afterRevoke.error?.code, -32013, 'a revoked key is refused at once');
    t.equal(await carolClosed, 4001, 'and its connection closes');
    t.equal((await root.call('key/revoke', { id: 'carol-laptop' })).error?.code, NOT_FOUND);
    t.ok((await root.request('config/update', { config: {} })).config, 'config/update with the admin key');
    // key list on the CLI shows user and admin.
    const listed = cli(dataDir, store, 'key', 'list');
    t.match(listed.stdout, /\tbob-laptop\tbob\t-\t/);
    t.match(listed.stdout, /\tops\troot\tadmin\t/);
  });
}

t.test('two users on one deployment (SQLite)', (t) => twoUsers(t, []));

t.test('two users on one deployment (PostgreSQL)', async (t) => {
  const pg = await startPostgres();
  if ('skip' in pg) return t.skip(pg.skip);
  t.teardown(() => pg.stop());
  await twoUsers(t, ['--store', await pg.newDatabase()]);
});

t.test('keys from before users: admin keys of user `default`, owning the sessions made without a key', async (t) => {
  const dataDir = tempDir();
  const server = await spawnHttp({ dataDir });
  t.teardown(() => server.stop());
  // No keys on loopback: the local user, as before.
  const local = await WsClient.connect(server.wsUrl);
  await local.initialize();
  const s = await local.request('session/create', { name: 'local' });
  t.notOk('owner' in s, 'a session made without a key has no owner (user default)');
  await local.close();
  const legacy = createKey(dataDir, [], 'legacy');
  const listed = JSON.parse(cli(dataDir, [], 'key', 'list', '--json').stdout);
  t.match(listed, [{ name: 'legacy', user: 'default', admin: true }]);
  const c = await connect(server, legacy);
  t.same((await c.request('session/list', {})).sessions.map((x: Json) => x.id), [s.id], 'the default user sees the sessions made without a key');
  t.ok((await c.request('config/update', { config: {} })).config, 'and may change config');
  await c.close();
  const alice = await connect(server, createKey(dataDir, [], 'a', 'alice'));
  t.same((await alice.request('session/list', {})).sessions, [], 'another user does not');
  await alice.close();
});
