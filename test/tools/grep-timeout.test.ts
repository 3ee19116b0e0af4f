// grep cannot stall the server: `(a+)+$` over a 30-character line (exponential backtracking in
// JavaScript's engine, about 30 s on the event loop before) ends at limits.searchTimeoutMs with a
// tool error, while another client's requests are answered promptly in the meantime.
import { writeFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { spawnHttp, tempDir, WsClient, type Json } from '../helpers/rpc-client.js';

t.test('a catastrophic grep pattern ends with a tool error; other clients are not blocked', async (t) => {
  const LIMIT = 1500;
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ limits: { searchTimeoutMs: LIMIT } }));
  const ws = realpathSync(tempDir('agentd-ws-'));
  writeFileSync(join(ws, 'bad.txt'), `${'a'.repeat(29)}!\n`);
  const server = await spawnHttp({ dataDir });
  t.teardown(() => server.stop());
  const a = await WsClient.connect(server.wsUrl);
  const b = await WsClient.connect(server.wsUrl);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  await a.initialize();
  await b.initialize();
  const s = await a.request('session/create', { workspaceRoot: ws, policy: { default: 'allow' } });
  await a.request('session/subscribe', { sessionId: s.id });

  const t0 = Date.now();
  let done = 0;
  const reply = a.request('session/message', { sessionId: s.id, content: '/tool grep {"pattern":"(a+)+$"}' }).then((r: Json) => { done = Date.now(); return r; });
  await a.waitForEvent('tool.started', (e: Json) => e.data.tool === 'grep', 5000);
  const latencies: number[] = [];
  for (let i = 0; i < 5; i++) {
    const q = Date.now();
    await b.request('session/list', {});
    latencies.push(Date.now() - q);
  }
  t.equal(done, 0, 'the other client was answered while grep was still running');
  t.ok(Math.max(...latencies) < 1000, `the other client's requests were answered promptly (${latencies.join(', ')} ms)`);
  const text = (await reply).content[0].text as string;
  const elapsed = done - t0;
  t.match(text, new RegExp(`^Tool error: grep stopped: it took longer than the time limit of ${LIMIT} ms`), 'a clear tool error');
  t.ok(elapsed >= LIMIT - 100 && elapsed < LIMIT + 3000, `ended at the time limit (${elapsed} ms)`);

  // The server still searches normally afterwards.
  writeFileSync(join(ws, 'good.txt'), 'needle\n');
  const ok = await a.request('session/message', { sessionId: s.id, content: '/tool grep {"pattern":"needle"}' });
  t.equal(ok.content[0].text, 'Tool result: good.txt:1:needle');
});
