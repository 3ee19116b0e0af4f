// Memory bounds under many clients: the server-wide send buffer (limits.totalSendBufferBytes)
// disconnects the slow readers holding the most, with a reason, and fast clients get every event.
// The full figure (1,000 SSE + 100 WebSocket readers) is bench/slow-readers.ts.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { slowReaders } from '../../bench/slow-readers.js';
import { rawSse, rawWs } from '../helpers/raw-http.js';
import { spawnHttp, tempDir, WsClient } from '../helpers/rpc-client.js';

t.test('100 slow SSE + 20 slow WebSocket readers under a tiny server-wide cap', async (t) => {
  const r = await slowReaders({ sse: 100, ws: 20, deltas: 10_000, size: 200, config: { limits: { totalSendBufferBytes: 8 * 1024 * 1024 } } });
  t.comment(`peak RSS ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MB; disconnected ${JSON.stringify(r.disconnected)}; ${r.ms} ms`);
  t.ok(r.fastOk, `fast clients got every event (${r.fastProblems.join('; ')})`);
  // The deltas plus message.created, turn.started, message.created, message.completed, usage.updated, turn.completed.
  t.equal(r.events, 10_006, 'the whole turn');
  t.ok(r.disconnected.total > 0, 'the server-wide cap disconnected slow readers');
  t.equal(r.disconnected.connection, 0, 'before any hit its own limit');
  t.ok(r.peakRssBytes < 512 * 2 ** 20, 'RSS stays small');
});

t.test('a slow reader disconnected by the cap gets the reason: WebSocket close 1008, SSE an error event', async (t) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ limits: { totalSendBufferBytes: 4 * 1024 * 1024 } }));
  const server = await spawnHttp({ dataDir: dir });
  t.teardown(() => server.stop());
  const fast = await WsClient.connect(server.wsUrl);
  t.teardown(() => fast.close());
  await fast.initialize();
  const s = await fast.request('session/create', { model: 'echo-bench' });
  await fast.request('session/subscribe', { sessionId: s.id });
  const ws = await rawWs(server.wsUrl, s.id);
  const sse = await rawSse(server.url, `/v1/session/${s.id}/events`);
  ws.socket.pause();
  sse.socket.pause();
  const turn = fast.request('session/message', { sessionId: s.id, content: '20000 100' });
  // Read again as soon as the server gives up on them: within its grace period the reason arrives.
  const seen = () => (server.stderr().match(/not reading; disconnecting/g) ?? []).length >= 2;
  await fast.waitFor(() => seen() || undefined, 60_000, 'both slow readers disconnected');
  ws.socket.resume();
  sse.socket.resume();
  await Promise.all([ws.closed, sse.closed]);
  const tail = ws.data().subarray(-200);
  const close = tail.lastIndexOf(0x88);
  t.ok(close >= 0, 'a close frame');
  t.equal(tail.readUInt16BE(close + 2), 1008, 'close code 1008');
  t.match(tail.subarray(close + 4).toString(), /limits\.totalSendBufferBytes/, 'the reason names the limit');
  t.match(sse.text(), /event: error\ndata: \{"code":-32021,"message":"client not reading: the server-wide send buffer is full \(limits.totalSendBufferBytes\)"\}\n\n/, 'SSE: a final error event');
  const reply = await turn;
  t.equal(reply.status, 'complete');
  await fast.waitFor(() => fast.events(s.id).find((e) => e.type === 'turn.completed'), 30_000, 'turn.completed');
  t.equal(fast.events(s.id).filter((e) => e.type === 'message.delta').length, 20_000, 'the fast client got every delta');
});
