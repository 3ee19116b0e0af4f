// A server killed while an approval is pending: on the next start, recovery denies it
// (`permission.resolved`, reason `server restart`) before the turn is marked interrupted, and a
// late answer is a Conflict.
import t from 'tap';
import { everythingStdio, writeConfig } from '../helpers/mcp.js';
import { spawnStdio, tempDir } from '../helpers/rpc-client.js';

t.test('a pending approval is denied by crash recovery', async (t) => {
  const dataDir = tempDir();
  writeConfig(dataDir, { mcpServers: { everything: everythingStdio({ autoConnect: true }) } });
  const a = spawnStdio({ dataDir });
  t.teardown(() => a.close());
  await a.initialize({});
  await a.request('mcp/connect', { name: 'everything' });
  const s = await a.request('session/create', {});
  await a.request('session/subscribe', { sessionId: s.id });
  await a.request('session/message', { sessionId: s.id, content: '/tool mcp__everything__echo {"message":"x"}', async: true });
  const asked = await a.waitForEvent('permission.requested');
  await new Promise((r) => setTimeout(r, 100)); // the event reaches the disk at the end of its loop turn
  a.proc.kill('SIGKILL');
  await a.exited;

  const b = spawnStdio({ dataDir });
  t.teardown(() => b.close());
  await b.initialize({});
  await b.request('session/subscribe', { sessionId: s.id, since: 0 });
  const resolved = await b.waitForEvent('permission.resolved');
  t.match(resolved.data, { permissionId: asked.data.permissionId, decision: 'deny', reason: 'server restart', tool: 'mcp__everything__echo' });
  const interrupted = await b.waitForEvent('turn.interrupted');
  t.ok(interrupted.seq > resolved.seq, 'denied before the turn is closed');
  const late = await b.call('tool/approve', { permissionId: asked.data.permissionId, decision: 'allow_once' });
  t.equal(late.error?.code, -32012);
  t.equal((await b.request('session/get', { sessionId: s.id })).session.status, 'idle');
});
