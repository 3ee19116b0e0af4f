// Limits: message sizes, rate limits, subscriptions and turns, and bounded send buffers.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { frame, ROOT, spawnHttp, spawnStdio, tempDir, WsClient } from '../helpers/rpc-client.js';

const withConfig = (config: object) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
};

t.test('stdio: an oversized message gets PayloadTooLarge and the stream stays in sync', async (t) => {
  const c = spawnStdio({ dataDir: withConfig({ limits: { maxBodyBytes: 2048 } }) });
  t.teardown(() => c.close());
  await c.initialize();
  const big = JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'session/create', params: { name: 'x'.repeat(5000) } });
  // Send it in pieces, so the skip spans several chunks.
  const f = frame(big);
  c.rawBytes(f.slice(0, 100));
  await new Promise((r) => setTimeout(r, 50));
  c.rawBytes(f.slice(100, 3000));
  await new Promise((r) => setTimeout(r, 50));
  c.rawBytes(f.slice(3000));
  await c.waitFor(() => c.orphans.length === 1, 5000, 'error reply');
  t.equal(c.orphans[0].error?.code, -32018);
  const s = await c.request('session/create', { name: 'after' });
  t.equal(s.name, 'after', 'next message parsed normally');
  c.rawBytes('Content-Type: x\r\n\r\n');
  await c.waitFor(() => c.orphans.length === 2, 5000, 'header error');
  t.equal(c.orphans[1].error?.code, -32700, 'frame without Content-Length');
  t.same((await c.request('session/list', {})).sessions.length, 1);
});

t.test('stdio: invalid UTF-8 is a parse error', async (t) => {
  const c = spawnStdio();
  t.teardown(() => c.close());
  await c.initialize();
  const body = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"session/list","params":{"x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]);
  c.rawBytes(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
  await c.waitFor(() => c.orphans.length === 1, 5000, 'parse error');
  t.equal(c.orphans[0].error?.code, -32700);
  t.same(await c.request('session/list', {}), { sessions: [], nextCursor: null });
});

t.test('websocket: frames over the limit close with 1009; other clients are unaffected', async (t) => {
  const server = await spawnHttp({ dataDir: withConfig({ limits: { maxBodyBytes: 4096 } }) });
  t.teardown(() => server.stop());
  const other = await WsClient.connect(server.wsUrl);
  await other.initialize();
  const c = await WsClient.connect(server.wsUrl);
  const closed = new Promise<number>((resolve) => c.ws.on('close', (code) => resolve(code)));
  c.raw(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '1.0', clientInfo: { name: 'x'.repeat(10_000) } } }));
  t.equal(await closed, 1009);
  t.same(await other.request('session/list', {}), { sessions: [], nextCursor: null });
  await other.close();
});

t.test('websocket: messages are rate limited with a typed error and retryAfter', async (t) => {
  const server = await spawnHttp({ dataDir: withConfig({ security: { rateLimit: { loopback: true, messagesPerSecond: 1, burst: 5 } } }) });
  t.teardown(() => server.stop());
  const c = await WsClient.connect(server.wsUrl);
  t.teardown(() => c.close());
  await c.initialize(); // 2 messages (initialize + initialized)
  const replies = await Promise.all(Array.from({ length: 10 }, () => c.call('session/list', {})));
  const limited = replies.filter((r) => r.error?.code === -32015);
  t.ok(limited.length >= 5, `most are limited (${limited.length})`);
  t.ok(replies.some((r) => r.result), 'the burst went through');
  t.ok(limited[0].error!.data.retryAfter >= 1, 'retryAfter in seconds');
  await new Promise((r) => setTimeout(r, 1100));
  const later = await c.call('session/list', {});
  t.ok(later.result, 'admitted again after waiting');
});

t.test('subscriptions per connection and concurrent turns are bounded', async (t) => {
  const c = spawnStdio({ dataDir: withConfig({ limits: { maxSubscriptions: 2, maxConcurrentTurns: 1 } }) });
  t.teardown(() => c.close());
  await c.initialize();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await c.request('session/create', { name: `s${i}`, model: 'echo-slow' })).id);
  await c.request('session/subscribe', { sessionId: ids[0] });
  await c.request('session/subscribe', { sessionId: ids[1] });
  const third = await c.call('session/subscribe', { sessionId: ids[2] });
  t.equal(third.error?.code, -32021);
  await c.request('session/subscribe', { sessionId: ids[1] });
  t.pass('resubscribing to the same session does not count twice');
  const first = await c.request('session/message', { sessionId: ids[0], content: 'a b c', async: true });
  t.equal(first.status, 'accepted');
  const second = await c.call('session/message', { sessionId: ids[1], content: 'x' });
  t.equal(second.error?.code, -32021, 'second concurrent turn refused');
  await c.waitForEvent('turn.completed', (e) => e.sessionId === ids[0]);
  await c.request('session/message', { sessionId: ids[1], content: 'now' });
  t.pass('after the first ends, another may run');
});

t.test('a client that stops reading is disconnected; others keep their events', async (t) => {
  const server = await spawnHttp({ dataDir: withConfig({ limits: { sendBufferBytes: 1 << 20 } }) });
  t.teardown(() => server.stop());
  const good = await WsClient.connect(server.wsUrl);
  await good.initialize();
  const s = await good.request('session/create', { name: 'flood' });
  await good.request('session/subscribe', { sessionId: s.id });
  // The hung client runs in its own process, stopped with SIGSTOP: it neither reads nor closes.
  const hung = spawn(process.execPath, [join(ROOT, 'test', 'fixtures', 'ws-subscriber.mjs'), server.wsUrl, s.id], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { hung.kill('SIGKILL'); });
  await new Promise<void>((resolve) => hung.stdout!.once('data', () => resolve()));
  hung.kill('SIGSTOP');
  let slowClosed = false;
  const closedLine = new Promise<void>((resolve) => hung.stdout!.on('data', (d) => { if (String(d).includes('closed')) { slowClosed = true; resolve(); } }));
  const isClosed = async () => {
    // The server ends the connection; the stopped process sees it once resumed.
    hung.kill('SIGCONT');
    await Promise.race([closedLine, new Promise((r) => setTimeout(r, 10_000))]);
    if (!slowClosed) hung.kill('SIGSTOP');
    return slowClosed;
  };
  // Each turn streams ~500 KB of events, less than the 1 MB buffer: a reading client keeps up;
  // the paused one falls further behind every turn until its buffer is full.
  const words = 2000;
  const text = Array.from({ length: words }, (_, i) => `word${i}`).join(' ');
  let turns = 0;
  let disconnected = false;
  while (turns < 60) {
    const reply = await good.request('session/message', { sessionId: s.id, content: text });
    t.equal(reply.status, 'complete', `turn ${++turns}`);
    if (server.stderr().includes('not reading; disconnecting')) { disconnected = true; break; }
  }
  t.ok(disconnected && await isClosed(), `the client that stopped reading was disconnected after ${turns} turns`);
  await good.waitFor(() => good.events(s.id).filter((e) => e.type === 'turn.completed').length === turns, 10_000, 'all turns');
  const deltas = good.events(s.id).filter((e) => e.type === 'message.delta').length;
  t.equal(deltas, turns * (words + 1), 'the reading client got every delta');
  const seqs = good.events(s.id).map((e) => e.seq);
  t.same(seqs, seqs.map((_, i) => seqs[0] + i), 'no gap');
  await good.close();
});
