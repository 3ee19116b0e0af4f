// Session affinity (config store.affinity, issue 21's second workspace shape) on two nodes of one
// PostgreSQL: a session belongs to the node that created it; session/message, session/diff and
// session/revert on the other node are refused with WrongNode (-32025; REST: 421 Misdirected
// Request) naming that node and its store.nodeUrl, while reading, subscribing and cancelling work
// anywhere; an Idempotency-Key refused there still runs on the right node; a fork belongs to the
// node that forked it; a node restarted with the same nodeUrl keeps its sessions; a session of a
// node that advertised no URL and is gone is taken over by the next node that drives it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startPostgres } from '../helpers/postgres.js';
import { spawnHttp, tempDir, WsClient, type HttpServer, type Json } from '../helpers/rpc-client.js';
import { textOf } from '../helpers/durability.js';

const WRONG_NODE = -32025;

interface Node { server: HttpServer; client: WsClient; dataDir: string; close(): Promise<void> }

const pg = await startPostgres();
if ('skip' in pg) {
  t.plan(0, `skipped: ${pg.skip}`);
} else {
  t.teardown(() => pg.stop());

  /** A node on `url` with `store` settings in its config.json (a data dir of its own, or the one given: a restart). */
  const node = async (url: string, store: Json, dataDir = tempDir()): Promise<Node> => {
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ store }));
    const server = await spawnHttp({ dataDir, args: ['--store', url] });
    const client = await WsClient.connect(server.wsUrl);
    await client.initialize();
    return { server, client, dataDir, close: async () => { await client.close(); await server.stop(); } };
  };
  /** A REST call to a node: status and JSON body. */
  const rest = async (n: Node, method: string, path: string, body?: Json, headers: Record<string, string> = {}) => {
    const res = await fetch(n.server.url + path, { method, headers: { 'Content-Type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: await res.json() as Json };
  };
  const A_URL = 'https://node-a.internal:4096';
  const B_URL = 'https://node-b.internal:4096';

  t.test('a session belongs to the node that created it: the other refuses its turns and workspace requests, naming the node', async (t) => {
    const url = await pg.newDatabase();
    const a = await node(url, { affinity: true, nodeUrl: A_URL });
    const b = await node(url, { affinity: true, nodeUrl: B_URL });
    t.teardown(async () => { await a.close(); await b.close(); });
    const ws = mkdtempSync(join(tmpdir(), 'agentd-ws-'));
    const s = await a.client.request('session/create', { name: 'on a', workspaceRoot: ws });

    // WebSocket: session/message on B is refused, the error names A.
    const refused = await b.client.call('session/message', { sessionId: s.id, content: 'hi' });
    t.equal(refused.error?.code, WRONG_NODE, 'session/message on B: WrongNode');
    t.match(refused.error?.data, { sessionId: s.id, node: Number, url: A_URL }, 'data names the node and its URL');
    t.match(refused.error?.message, new RegExp(`send this request to ${A_URL}`), 'the message says where to send it');
    const nodeA = refused.error?.data.node;
    for (const [method, params] of [['session/diff', { sessionId: s.id }], ['session/revert', { sessionId: s.id, messageId: 'msg_x' }], ['session/unrevert', { sessionId: s.id }]] as const) {
      const r = await b.client.call(method, params);
      t.match(r.error, { code: WRONG_NODE, data: { node: nodeA, url: A_URL } }, `${method} on B: WrongNode`);
    }
    t.notOk((await b.client.request('session/get', { sessionId: s.id })).messages.length, 'the refused message did not run');

    // Reading and following work anywhere; the turn runs on A.
    t.equal((await b.client.request('session/get', { sessionId: s.id })).session.id, s.id, 'session/get on B');
    await b.client.request('session/subscribe', { sessionId: s.id });
    const reply = await a.client.request('session/message', { sessionId: s.id, content: 'on a' });
    t.equal(textOf(reply), 'Echo: on a', 'session/message on A runs');
    await b.client.waitForEvent('turn.completed', (e) => e.sessionId === s.id);

    // REST: 421 Misdirected Request with the same body; the right node answers.
    const r = await rest(b, 'POST', `/v1/session/${s.id}/message`, { content: 'over rest' });
    t.equal(r.status, 421, 'REST on B: 421 Misdirected Request');
    t.match(r.body.error, { code: WRONG_NODE, data: { sessionId: s.id, node: nodeA, url: A_URL } });
    t.equal((await rest(b, 'GET', `/v1/session/${s.id}/diff`)).status, 421, 'GET diff on B: 421');
    const ok = await rest(a, 'POST', `/v1/session/${s.id}/message`, { content: 'over rest' });
    t.equal(ok.status, 200, 'REST on A: 200');
    t.equal(textOf(ok.body), 'Echo: over rest');

    // An Idempotency-Key refused on B is not remembered as refused: the same key runs on A.
    const key = { 'Idempotency-Key': 'affinity-1' };
    t.equal((await rest(b, 'POST', `/v1/session/${s.id}/message`, { content: 'once' }, key)).status, 421);
    const once = await rest(a, 'POST', `/v1/session/${s.id}/message`, { content: 'once' }, key);
    t.equal(once.status, 200, 'the same key on A runs the turn');
    t.equal(textOf(once.body), 'Echo: once');

    // The other way round: a session made on B runs on B only; a fork belongs to the node that forked it.
    const sb = await b.client.request('session/create', { name: 'on b' });
    const back = await a.client.call('session/message', { sessionId: sb.id, content: 'x' });
    t.match(back.error, { code: WRONG_NODE, data: { sessionId: sb.id, url: B_URL } }, 'a session of B is refused on A, naming B');
    t.not(back.error?.data.node, nodeA, 'B\'s node id, not A\'s');
    t.equal(textOf(await b.client.request('session/message', { sessionId: sb.id, content: 'x' })), 'Echo: x');
    const fork = await a.client.request('session/fork', { sessionId: sb.id });
    t.equal(textOf(await a.client.request('session/message', { sessionId: fork.id, content: 'fork' })), 'Echo: fork', 'A\'s fork of B\'s session runs on A');
    t.equal((await b.client.call('session/message', { sessionId: fork.id, content: 'x' })).error?.code, WRONG_NODE, 'and not on B');

    // Cancel is not a workspace request: from B it cancels A's turn.
    const slow = await a.client.request('session/create', { name: 'slow', model: 'echo-slow' });
    const turn = await a.client.request('session/message', { sessionId: slow.id, content: Array.from({ length: 100 }, (_, i) => `w${i}`).join(' '), async: true });
    await a.client.request('session/subscribe', { sessionId: slow.id });
    await a.client.waitForEvent('message.delta', (e) => e.sessionId === slow.id);
    t.same(await b.client.request('session/cancel', { sessionId: slow.id }), { sessionId: slow.id, cancelled: true, turnId: turn.turnId }, 'session/cancel on B cancels the turn on A');

    // Unknown sessions answer NotFound as before; deleting forgets the record.
    t.equal((await b.client.call('session/message', { sessionId: 'ses_nope', content: 'x' })).error?.code, -32010, 'unknown session: NotFound');
    await b.client.request('session/delete', { sessionId: sb.id });
    t.equal((await b.client.call('session/message', { sessionId: sb.id, content: 'x' })).error?.code, -32010, 'deleted: NotFound');
  });

  t.test('a node restarted with the same nodeUrl keeps its sessions; one that advertised no URL and is gone hands them over', async (t) => {
    const url = await pg.newDatabase();
    let a = await node(url, { affinity: true, nodeUrl: A_URL });
    const b = await node(url, { affinity: true, nodeUrl: B_URL });
    const c = await node(url, { affinity: true });
    t.teardown(async () => { await a.close(); await b.close(); });
    const s = await a.client.request('session/create', { name: 'survives' });
    const before = (await b.client.call('session/message', { sessionId: s.id, content: 'x' })).error;
    t.equal(before?.code, WRONG_NODE);
    await a.close();
    a = await node(url, { affinity: true, nodeUrl: A_URL }, a.dataDir);
    t.equal(textOf(await a.client.request('session/message', { sessionId: s.id, content: 'back' })), 'Echo: back', 'A restarted (a new node id, the same URL) runs it');
    t.match((await b.client.call('session/message', { sessionId: s.id, content: 'x' })).error, { code: WRONG_NODE, data: { url: A_URL } }, 'and B still sends it to A');

    const sc = await c.client.request('session/create', { name: 'on c' });
    const whileUp = (await b.client.call('session/message', { sessionId: sc.id, content: 'x' })).error;
    t.equal(whileUp?.code, WRONG_NODE, 'while C holds its lease, B refuses');
    t.notOk('url' in (whileUp?.data ?? {}), 'C advertises no URL');
    t.match(whileUp?.message, /advertises no address/);
    await c.close(); // a clean stop gives its lease up
    t.equal(textOf(await b.client.request('session/message', { sessionId: sc.id, content: 'mine' })), 'Echo: mine', 'C gone: B takes the session over');
    t.match((await a.client.call('session/message', { sessionId: sc.id, content: 'x' })).error, { code: WRONG_NODE, data: { url: B_URL } }, 'and it is B\'s now');
  });

  t.test('without store.affinity any node runs any session\'s turn', async (t) => {
    const url = await pg.newDatabase();
    const a = await node(url, {});
    const b = await node(url, {});
    t.teardown(async () => { await a.close(); await b.close(); });
    const s = await a.client.request('session/create', {});
    t.equal(textOf(await b.client.request('session/message', { sessionId: s.id, content: 'anywhere' })), 'Echo: anywhere');
  });
}
