// ACP over WebSocket at ws://HOST:PORT/acp on `agentd serve`, driven by the SDK's client side:
// the stdio scenario (a scripted tool call, approvals allow_once / reject_once, a diff), live for
// the server's /rpc clients; the upgrade behind the same key and Origin checks as /rpc; bad frames.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import WebSocket from 'ws';
import { agentText, connectAcpWs, initialize, newSession, prompt, updatesOf } from '../helpers/acp.js';
import { reply, startAnthropicServer } from '../helpers/anthropic-server.js';
import { AGENTD, spawnHttp, tempDir, WsClient } from '../helpers/rpc-client.js';

t.test('/acp: the stdio scenario over WebSocket, behind the API key and Origin checks', async (t) => {
  const anthropic = await startAnthropicServer();
  t.teardown(() => anthropic.close());
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ defaultProvider: 'anthropic' }));
  const created = spawnSync(process.execPath, [AGENTD, 'key', 'create', '--name', 'editor', '--data-dir', dataDir], { encoding: 'utf8' });
  t.equal(created.status, 0, created.stderr);
  const key = created.stdout.trim();
  const http = await spawnHttp({ dataDir, env: { ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_API_KEY: 'sk-test' } });
  t.teardown(() => http.stop());
  const acpUrl = http.wsUrl.replace(/\/rpc$/, '/acp');
  const auth = { authorization: `Bearer ${key}` };

  // Refused upgrades, as /rpc's.
  for (const [headers, status, what] of [[{}, 401, 'no key'], [{ authorization: 'Bearer agentd_wrong' }, 401, 'a wrong key'], [{ ...auth, origin: 'http://evil.example' }, 403, 'a foreign Origin']] as const) {
    try {
      const h = await connectAcpWs(acpUrl, headers);
      await h.close();
      t.fail(`${what}: admitted`);
    } catch (err) {
      t.equal((err as { status?: number }).status, status, `${what}: ${status}`);
    }
  }

  // A /rpc client of the same server follows everything.
  const page = await WsClient.connect(http.wsUrl, { headers: auth });
  t.teardown(() => page.close());
  await page.initialize({});
  await page.request('session/subscribe', { since: 0 });

  const h = await connectAcpWs(acpUrl, auth);
  t.teardown(() => h.close());
  const init = await initialize(h);
  t.equal(init.protocolVersion, 1);
  t.equal(init.authMethods?.[0]?.id, 'agentd-auth-login');
  t.same((init.authMethods?.[0] as { args?: string[] }).args, ['auth', 'login', '--url', http.wsUrl], 'terminal auth logs in to this server');
  const ws = realpathSync(tempDir('agentd-acp-ws-'));
  const { sessionId } = await newSession(h, ws);

  anthropic.script(reply.toolUse([{ id: 'tu_a', name: 'write_file', input: { path: 'a.txt', content: 'A\n' } }]), reply.text(['wrote a']));
  h.onPermission = () => ({ outcome: { outcome: 'selected', optionId: 'allow_once' } });
  t.equal((await prompt(h, sessionId, 'write a')).stopReason, 'end_turn');
  t.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), 'A\n', 'allow_once: written');
  t.equal(h.permissions.at(-1)?.toolCall.toolCallId, 'tu_a');
  const done = updatesOf(h, sessionId, 'tool_call_update').find((u) => u.toolCallId === 'tu_a' && u.status === 'completed');
  t.same(done?.content, [{ type: 'diff', path: join(ws, 'a.txt'), oldText: null, newText: 'A\n' }]);
  t.equal(agentText(h.updates, sessionId), 'wrote a');

  anthropic.script(reply.toolUse([{ id: 'tu_b', name: 'write_file', input: { path: 'b.txt', content: 'B' } }]), reply.text(['ok']));
  h.onPermission = () => ({ outcome: { outcome: 'selected', optionId: 'reject_once' } });
  await prompt(h, sessionId, 'write b');
  t.notOk(existsSync(join(ws, 'b.txt')), 'reject_once: not written');

  await page.waitFor(() => page.events(sessionId).filter((e) => e.type === 'turn.completed').length === 2, 10_000, 'both turns on /rpc');
  t.ok(page.events(sessionId).some((e) => e.type === 'permission.requested'), 'the /rpc client saw the approvals live');

  // Bad frames are answered, not fatal.
  const raw = new WebSocket(acpUrl, { headers: auth });
  t.teardown(() => raw.close());
  await new Promise((r) => raw.once('open', r));
  const answers: unknown[] = [];
  raw.on('message', (d) => answers.push(JSON.parse(d.toString())));
  raw.send('{not json');
  raw.send(JSON.stringify([1, 2]));
  raw.send(Buffer.from([1, 2, 3]));
  raw.send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'initialize', params: { protocolVersion: 1 } }));
  await new Promise<void>((resolve) => { const check = () => (answers.length >= 4 ? resolve() : setTimeout(check, 20)); check(); });
  t.match(answers.slice(0, 3), [{ error: { code: -32700 } }, { error: { code: -32600 } }, { error: { code: -32600 } }], 'parse error, invalid request, binary frame');
  t.match(answers[3], { id: 7, result: { protocolVersion: 1 } }, 'the connection still works');
});
