// The turn runner in-process with a Core: a tool that ignores its abort signal cannot hold a
// cancelled turn open, and late output from it is not recorded.
import t from 'tap';
import { createLogger } from '../../server/log.js';
import type { ToolSource } from '../../server/tools/host.js';
import { openCore } from '../helpers/core.js';
import { tempDir } from '../helpers/rpc-client.js';

t.test('cancel does not wait for a tool that ignores its signal', async (t) => {
  const core = await openCore({ dataDir: tempDir(), cwd: tempDir('agentd-ws-'), log: createLogger('silent') });
  t.teardown(() => core.close());
  let finished = false;
  let lateOutput = () => {};
  const stubborn: ToolSource = {
    id: 'stubborn',
    has: (name) => name === 'stubborn',
    list: () => [{ name: 'stubborn', description: 'ignores cancel', inputSchema: { type: 'object' }, source: { type: 'builtin' }, readOnly: true }],
    execute: (call, ctx) => new Promise((resolve) => {
      ctx.output('stdout', 'working\n');
      lateOutput = () => ctx.output('stdout', 'too late\n');
      setTimeout(() => { finished = true; lateOutput(); resolve({ type: 'tool_result', toolUseId: call.id, content: [{ type: 'text', text: 'done' }] }); }, 1500);
    }),
  };
  core.toolSources.add(stubborn);
  const types: string[] = [];
  const texts: string[] = [];
  const session = await core.sessions.create({ provider: 'echo' });
  core.events.on(session.id, (e) => {
    const ev = JSON.parse(e.json);
    types.push(ev.type);
    if (ev.type === 'tool.output') texts.push(ev.data.text);
  });
  const turn = await core.turns.start(session.id, '/tool stubborn {}');
  const started = Date.now();
  while (!types.includes('tool.output') && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 10));
  t.ok(types.includes('tool.started'));
  await core.turns.cancel(session.id);
  t.notOk(finished, 'the turn ended while the tool was still running');
  await t.rejects(turn.done, { code: -32800 });
  t.ok(types.includes('turn.cancelled'));
  t.ok(types.includes('tool.failed'));
  lateOutput();
  t.same(texts, ['working\n'], 'output after the turn ended is not recorded');
  const msgs = await core.store.listMessages(session.id);
  t.same(msgs.map((m) => m.role), ['user', 'assistant', 'user']);
  t.match(msgs[2].content[0], { type: 'tool_result', isError: true, content: [{ text: /did not stop in time/ }] });
  t.equal((await core.sessions.get(session.id)).session.status, 'idle');
});
