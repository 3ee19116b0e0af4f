// Dead peers are found: a WebSocket client that stops answering pings is dropped; a stdio server whose parent exits shuts down and leaves no tool process behind.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { AGENTD, spawnHttp, StdioClient, tempDir, WsClient } from '../helpers/rpc-client.js';
import { alive, reap, TEST_ENV, toolPids, waitGone } from '../helpers/durability.js';

t.test('websocket: a peer that does not answer pings is dropped, a live one stays', async (t) => {
  const server = await spawnHttp({ env: { AGENTD_WS_PING_MS: '200' } });
  t.teardown(() => server.stop());
  const dead = await WsClient.connect(server.wsUrl, { autoPong: false });
  const live = await WsClient.connect(server.wsUrl);
  t.teardown(() => live.close());
  await dead.initialize();
  await live.initialize();
  const s = await live.request('session/create', { name: 'ping' });
  await dead.request('session/subscribe', { sessionId: s.id });
  await live.request('session/subscribe', { sessionId: s.id });

  const closed = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('dead peer was not dropped')), 5000);
    dead.ws.once('close', (code) => { clearTimeout(timer); resolve(code); });
  });
  t.equal(closed, 1006, 'terminated, without a close handshake');
  await live.waitFor(() => /did not answer a ping/.test(server.stderr()), 3000, 'the drop to be logged');
  t.match(server.stderr(), /did not answer a ping/);
  // The live peer answered every ping meanwhile and still works, subscription included.
  t.equal(live.ws.readyState, live.ws.OPEN);
  await live.request('session/message', { sessionId: s.id, content: 'still there' });
  await live.waitForEvent('turn.completed');
});

t.test('a timing variable past a timer\'s range means rarely, not every millisecond (Node would fire it after 1 ms)', async (t) => {
  const huge = '99999999999';
  const server = await spawnHttp({ env: { AGENTD_WS_PING_MS: huge, AGENTD_RECOVERY_SWEEP_MS: huge, AGENTD_HOUSEKEEPING_MS: huge } });
  t.teardown(() => server.stop());
  const c = await WsClient.connect(server.wsUrl);
  t.teardown(() => c.close());
  await c.initialize();
  await c.request('session/create', {});
  await new Promise((r) => setTimeout(r, 300));
  t.notMatch(server.stderr(), /TimeoutOverflowWarning|does not fit into a 32-bit/, 'no timer overflowed to 1 ms');
  t.equal(c.ws.readyState, c.ws.OPEN, 'the connection is unharmed');
});

t.test('stdio: the parent exiting ends the server and its tool processes', async (t) => {
  const dir = tempDir();
  const pidFile = join(dir, 'agentd.pid');
  // A parent that hands agentd a pipe we hold (its fd 3) as stdin and shares its stdout: when the
  // parent dies, agentd's stdin stays open, so only noticing the parent's death can end it.
  const wrapper = join(dir, 'parent.cjs');
  writeFileSync(wrapper, `
    const { spawn } = require('node:child_process');
    const c = spawn(process.execPath, [${JSON.stringify(AGENTD)}, 'serve', '--stdio', '--data-dir', ${JSON.stringify(join(dir, 'data'))}], { stdio: [3, 'inherit', 'inherit'] });
    require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(c.pid));
    setInterval(() => {}, 1000);
  `);
  const parent = spawn(process.execPath, [wrapper], {
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: { ...process.env, ...TEST_ENV, AGENTD_LOG_LEVEL: 'warn', AGENTD_CHECK_RESULTS: '1' },
  });
  const input = parent.stdio[3] as Writable;
  const client = new StdioClient(Object.assign(Object.create(parent), { stdin: input }) as ChildProcess);
  t.teardown(() => { input.end(); parent.kill('SIGKILL'); });
  await client.initialize();
  const agentd = Number(readFileSync(pidFile, 'utf8'));
  t.teardown(() => reap([agentd]));
  const s = await client.request('session/create', { name: 'orphan' });
  await client.request('session/subscribe', { sessionId: s.id });
  await client.request('session/message', { sessionId: s.id, content: '/tool test_sleep {"seconds":30}', async: true });
  const pids = await toolPids(client, s.id);
  t.teardown(() => reap(pids));
  t.ok(pids.every(alive), 'tool processes running');

  parent.kill('SIGKILL');
  t.ok(await waitGone([agentd], 10_000), 'agentd exited after its parent died');
  t.ok(await waitGone(pids, 5000), 'no orphaned tool processes (the whole group was killed)');
  // It went through the graceful path: the turn ended as interrupted, seen by the still-connected client.
  const interrupted = client.events(s.id).find((e) => e.type === 'turn.interrupted');
  t.equal(interrupted?.data.reason, 'shutdown');
});
