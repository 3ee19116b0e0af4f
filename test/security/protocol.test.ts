// Protocol-level abuse over stdio and WebSocket (issue 12): messages vscode-jsonrpc acts on itself,
// responses to requests never sent, nesting amplification, queue floods and resubscribes during
// a replay. After each, the same server process still serves a full turn.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open, RPC_TRANSPORTS, type Opened } from '../helpers/transports.js';
import { ROOT, StdioClient, tempDir, WsClient } from '../helpers/rpc-client.js';
import { fullTurn } from '../helpers/fuzz-inputs.js';
import { reply, startAnthropicServer } from '../helpers/anthropic-server.js';

const noRateLimit = (extra: object = {}) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ security: { rateLimit: { messagesPerSecond: 100_000, burst: 100_000 } }, ...extra }));
  return dir;
};

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

function alive(t: Tap.Test, o: Opened) {
  const c = o.client;
  if (c instanceof StdioClient) t.equal(c.proc.exitCode, null, 'server process still running');
  if (c instanceof WsClient) t.equal(c.ws.readyState, 1, 'socket still open');
}

const CANCELS = [
  '{"jsonrpc":"2.0","method":"$/cancelRequest"}',
  '{"jsonrpc":"2.0","method":"$/cancelRequest","params":{}}',
  '{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":null}}',
  '{"jsonrpc":"2.0","method":"$/cancelRequest","params":[]}',
  '{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":{"toString":1}}}',
  '{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":12345}}',
  '{"jsonrpc":"2.0","method":"$/progress"}',
  '{"jsonrpc":"2.0","method":"$/progress","params":[1]}',
  '{"jsonrpc":"2.0","method":"$/setTrace"}',
  '{"jsonrpc":"2.0","method":"$/setTrace","params":{"value":{}}}',
  '{"jsonrpc":"2.0","method":"$/logTrace","params":{}}',
  '{"jsonrpc":"2.0","method":"initialized","params":[1,2]}',
  '{"jsonrpc":"2.0","method":"exit","params":[1]}',
  '{"jsonrpc":"2.0","id":777,"result":{}}',
  '{"jsonrpc":"2.0","id":{"toString":1},"result":1}',
  '{"jsonrpc":"2.0","id":[],"error":{"code":1,"message":"x"}}',
  '{"jsonrpc":"2.0","id":null,"error":{"code":"x"}}',
  '{"jsonrpc":"2.0","id":5,"error":null}',
];

for (const transport of RPC_TRANSPORTS) {
  t.test(`${transport}: $/cancelRequest and other protocol-level messages with odd params, before and after initialize`, async (t) => {
    const o = await open(transport, { dataDir: noRateLimit() });
    t.teardown(o.close);
    const c = o.client;
    for (const text of CANCELS) c.raw(text);
    // Requests still get answered in order after all of them (the process did not die).
    const before = await c.call('session/list', {});
    t.equal(before.error?.code, -32002, 'not initialized yet, still alive');
    await c.initialize();
    for (const text of CANCELS) c.raw(text);
    t.same(await c.request('session/list', {}), { sessions: [], nextCursor: null });
    const refused = c.orphans.filter((m) => m.id === null && m.error);
    t.ok(refused.length >= 2 * 12, `bad protocol notifications are refused with typed errors (${refused.length})`);
    t.ok(refused.every((m) => [-32600, -32602].includes(m.error!.code)), 'as -32600 / -32602');
    await fullTurn(c);
    alive(t, o);
  });

  t.test(`${transport}: deep nesting and container floods are refused before parsing, under the request id`, async (t) => {
    const o = await open(transport, { dataDir: noRateLimit() });
    t.teardown(o.close);
    const c = o.client;
    await c.initialize();
    const rss0 = rssOf(o.pid);
    // 3 MB of [[[[...]]]] (main built ~90 MB of arrays from each) and of [[],[],...].
    const n = 1_500_000;
    const deep = `{"jsonrpc":"2.0","id":"deep","method":"session/create","params":{"name":${'['.repeat(n)}${']'.repeat(n)}}}`;
    const wide = `{"jsonrpc":"2.0","id":"wide","method":"session/create","params":{"name":[${'[],'.repeat(n / 2)}[]]}}`;
    for (let i = 0; i < 3; i++) { c.raw(deep); c.raw(wide); }
    await c.waitFor(() => c.orphans.filter((m) => m.id === 'deep' || m.id === 'wide').length === 6, 20_000, 'six refusals');
    for (const m of c.orphans) {
      t.equal(m.error?.code, -32600);
      t.ok(typeof m.error?.data?.limit === 'number', 'names the limit');
    }
    // The six frames alone are 18 MB read, decoded and scanned (a CI run under load saw 87 MB
    // of lazily collected buffers); building their arrays took ~90 MB per message on top.
    const grown = rssOf(o.pid) - rss0;
    t.ok(grown < 160 * 1024 * 1024, `RSS grew ${Math.round(grown / 1048576)} MB`);
    // Nesting within the limit still works.
    const ok = await c.call('session/create', { name: 'fine', policy: { rules: [] } });
    t.equal(ok.result?.name, 'fine');
    await fullTurn(c);
    alive(t, o);
  });

  t.test(`${transport}: a flood of requests in one write is bounded before dispatch; every one is answered`, async (t) => {
    const o = await open(transport, { dataDir: noRateLimit() });
    t.teardown(o.close);
    const c = o.client;
    await c.initialize();
    const N = 3000;
    const replies = Array.from({ length: N }, (_, i) => c.call('session/list', {}, `flood-${i}`));
    const all = await Promise.all(replies);
    const limited = all.filter((r) => r.error?.code === -32021);
    t.ok(all.every((r) => r.result || r.error?.code === -32021), 'a result or LimitExceeded for each');
    t.ok(limited.length > 0, `${limited.length} of ${N} refused with -32021`);
    // A request reusing the id of one still open is refused, not silently merged with it.
    const slow = await c.request('session/create', { name: 'slow', model: 'echo-slow' });
    c.raw(JSON.stringify({ jsonrpc: '2.0', id: 'dup', method: 'session/message', params: { sessionId: slow.id, content: 'one two three' } }));
    c.raw(JSON.stringify({ jsonrpc: '2.0', id: 'dup', method: 'session/list', params: {} }));
    const dups = await c.waitFor(() => { const d = c.orphans.filter((m) => m.id === 'dup'); return d.length === 2 && d; }, 10_000, 'both answers');
    t.equal(dups[0].error?.code, -32600, 'the duplicate is refused at once');
    t.ok(dups[1].result?.content, 'the first one is answered');
    await fullTurn(c);
    alive(t, o);
  });

  t.test(`${transport}: a second session/subscribe during a replay waiting for drain replaces the first`, async (t) => {
    const o = await open(transport, { dataDir: noRateLimit({ limits: { sendBufferBytes: 4 * 1024 * 1024 } }) });
    t.teardown(o.close);
    const c = o.client;
    await c.initialize();
    const s = await c.request('session/create', { name: 'replay', model: 'echo-bench' });
    // 2,000 deltas of 1,000 characters: a replay page (1,000 events) is over the 1 MiB the
    // replay waits to drain to, so the first subscription is parked in writable().
    await c.request('session/message', { sessionId: s.id, content: '2000 1000' });
    const a = c.call('session/subscribe', { sessionId: s.id, since: 0 }, 'sub-a');
    const b = c.call('session/subscribe', { sessionId: s.id }, 'sub-b');
    t.ok((await a).result?.subscribed);
    const lastSeq: number = (await b).result?.lastSeq;
    t.ok(lastSeq >= 2000);
    await c.request('session/message', { sessionId: s.id, content: '3 10' });
    await c.waitFor(() => c.events(s.id).find((e) => e.type === 'turn.completed' && e.seq > lastSeq), 10_000, 'live turn.completed');
    const live = () => c.events(s.id).filter((e) => e.seq > lastSeq).map((e) => e.seq);
    // Both listeners deliver in the same event-loop turn, so a duplicate would be here already.
    const seqs = live();
    t.same(seqs, [...new Set(seqs)], 'each live event once');
    t.same((await c.request('session/unsubscribe', { sessionId: s.id })).unsubscribed, true);
    const count = live().length;
    await c.request('session/message', { sessionId: s.id, content: '3 10' });
    // Events of a turn go out before the reply to its session/message.
    t.equal(live().length, count, 'nothing after unsubscribe');
    await fullTurn(c);
    alive(t, o);
  });
}

t.test('README: every stdio frame example has a Content-Length that matches its body', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const frames = [...readme.matchAll(/Content-Length: (\d+)\\r\\n\\r\\n(\{.*\})\s*$/gm)];
  t.ok(frames.length >= 1, `${frames.length} examples`);
  for (const [, n, body] of frames) t.equal(Buffer.byteLength(body), Number(n), body.slice(0, 60));
});

t.test('websocket and stdio: initialize is lenient, other params stay strict; config/update names an unknown defaultProvider', async (t) => {
  for (const transport of RPC_TRANSPORTS) {
    const o = await open(transport);
    t.teardown(o.close);
    const c = o.client;
    const r = await c.call('initialize', {
      protocolVersion: '1.0', processId: 1234, rootUri: 'file:///tmp', trace: 'off', workspaceFolders: null,
      clientInfo: { name: 'lsp-client', version: '1', extra: true },
      capabilities: { permissionRequests: true, experimental: { x: 1 }, textDocument: { synchronization: {} } },
    });
    t.equal(r.result?.protocolVersion, '1.0', `${transport}: LSP-style initialize accepted`);
    c.notify('initialized', { extra: 1 });
    const strict = await c.call('session/list', { bogus: 1 });
    t.equal(strict.error?.data?.field, 'bogus', 'ordinary params stay strict');
    const bad = await c.call('config/update', { config: { defaultProvider: 'nope' } });
    t.equal(bad.error?.code, -32602);
    t.equal(bad.error?.data?.field, 'config.defaultProvider');
    t.equal((await c.request('session/create', { name: 'still' })).provider, 'echo', 'sessions still create');
    await fullTurn(c);
  }
});

for (const transport of RPC_TRANSPORTS) {
  t.test(`${transport}: a permission/request reply that cannot be understood denies at once; extra fields count`, async (t) => {
    const o = await open(transport);
    t.teardown(o.close);
    const c = o.client;
    await c.initialize({ permissionRequests: true });
    const replies: unknown[] = [{ decision: 'maybe' }, 'yes', { decision: 'deny', reason: 'not today', uiHint: 'red' }];
    c.onServerRequest = () => replies.shift();
    const s = await c.request('session/create', { name: 'perm', workspaceRoot: tempDir() });
    await c.request('session/subscribe', { sessionId: s.id });
    const started = Date.now();
    for (const expected of [/invalid reply from the client/, /invalid reply from the client/, /not today/]) {
      const r = await c.request('session/message', { sessionId: s.id, content: '/tool write_file {"path":"a.txt","content":"x"}' });
      t.match(r.content[0].text, expected, 'the model sees the reason');
      const resolved = c.events(s.id).filter((e) => e.type === 'permission.resolved').at(-1);
      t.match(resolved.data, { decision: 'deny', reason: expected }, 'permission.resolved carries it');
    }
    t.ok(Date.now() - started < 10_000, 'no wait for the approval timeout');
    await fullTurn(c);
  });
}

t.test('stdio: the Anthropic SDK\'s deprecation warning goes through the logger (JSON on stderr)', async (t) => {
  const api = await startAnthropicServer();
  t.teardown(() => api.close());
  const o = await open('stdio', { env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'sk-ant-test-0123456789', AGENTD_LOG_LEVEL: 'warn' } });
  t.teardown(o.close);
  const c = o.client;
  await c.initialize();
  api.script(reply.text(['hi']));
  const s = await c.request('session/create', { provider: 'anthropic', model: 'claude-sonnet-4-5' });
  const r = await c.request('session/message', { sessionId: s.id, content: 'hello' });
  t.equal(r.content[0].text, 'hi');
  const lines = o.stderr().split('\n').filter(Boolean);
  t.same(lines.filter((l) => { try { JSON.parse(l); return false; } catch { return true; } }), [], 'every stderr line is a log record');
  t.ok(lines.some((l) => /deprecated/.test(JSON.parse(l).msg ?? '')), 'the warning is a log record');
});
