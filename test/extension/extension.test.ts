// The extension's logic (the built bundle) against the real bundled server over stdio, with a
// stand-in for the `vscode` module.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { until } from '../helpers/agent-client.js';
import { ROOT, tempDir } from '../helpers/rpc-client.js';
import { createVscodeStub, FakeWebviewView, loadExtension } from '../helpers/vscode-stub.js';

const EXT = join(ROOT, 'extension');
type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

t.before(() => {
  if (!existsSync(join(EXT, 'dist', 'extension.cjs'))) throw new Error('extension not built: run `node extension/build.mjs` (npm test does)');
  process.env.AGENTD_CHECK_RESULTS = '1';
  process.env.AGENTD_LOG_LEVEL = 'info';
});

function setup(settings: Record<string, unknown> = {}) {
  const dataDir = tempDir();
  const stub = createVscodeStub({ workspace: tempDir('agentd-ws-'), extensionPath: EXT, settings: { 'agentd.dataDir': dataDir, ...settings } });
  const ext = loadExtension(stub.vscode);
  const view = new FakeWebviewView();
  return { ...stub, ext, view, dataDir };
}

const events = (view: FakeWebviewView, type?: string): Json[] =>
  view.posted.filter((m) => m.type === 'event' && (!type || m.event.type === type)).map((m) => m.event);
const status = (s: ReturnType<typeof setup>) => s.statusItems[0].text;

t.test('commands, chat view, streaming, cancel, sessions, model pick', async (t) => {
  const s = setup();
  const controller = s.ext.activate(s.context);
  t.teardown(() => s.ext.deactivate());
  for (const id of ['agentd.newSession', 'agentd.sendMessage', 'agentd.cancelTurn', 'agentd.showSessions', 'agentd.pickModel', 'agentd.setApiKey', 'agentd.restartServer']) {
    t.ok(s.commands.has(id), `registers ${id}`);
  }
  const manifest = (await import(join(EXT, 'package.json'), { with: { type: 'json' } })).default;
  t.same(manifest.contributes.commands.map((c: Json) => c.command).sort(), [...s.commands.keys()].sort(), 'the manifest lists every command');
  t.ok(s.providers.has('agentd.chat'), 'registers the chat view');

  s.providers.get('agentd.chat')!.resolveWebviewView(s.view);
  t.match(s.view.webview.html, /Content-Security-Policy/);
  s.view.fromPage({ type: 'ready' });
  await until(() => status(s) === '$(hubot) agentd: ready', 15_000, 'server ready');
  t.match(s.outputs[0].text, /agentd started \(pid \d+\)/, 'server start in the Output channel');
  await until(() => /agentd serving on stdio/.test(s.outputs[0].text), 10_000, 'server stderr in the Output channel');

  const session = await s.vscode.commands.executeCommand('agentd.newSession');
  t.match(session, { provider: 'echo', status: 'idle' });
  const history = s.view.posted.find((m) => m.type === 'history');
  t.equal(history.session.id, session.id, 'the view shows the new session');

  // Send from the page, as a user typing in the view would.
  s.view.fromPage({ type: 'send', text: 'hello from the view' });
  await until(() => events(s.view, 'turn.completed').length === 1, 10_000, 'turn.completed in the view');
  const text = events(s.view, 'message.delta').map((e) => e.data.delta.text).join('');
  t.equal(text, 'Echo: hello from the view', 'the reply streamed into the view');

  // The palette command asks for the text with an input box.
  s.answer.inputBox = () => 'from the palette';
  await s.vscode.commands.executeCommand('agentd.sendMessage');
  await until(() => events(s.view, 'turn.completed').length === 2, 10_000, 'second turn');

  // Pick a slow model for new sessions, then cancel a turn.
  s.answer.quickPick = (items: Json[]) => items.find((i) => i.label === 'echo/echo-slow');
  const picked = await s.vscode.commands.executeCommand('agentd.pickModel');
  t.same(picked, { provider: 'echo', model: 'echo-slow' });
  t.equal(s.settings['agentd.defaultModel'], 'echo-slow', 'stored in the settings');
  const slow = await s.vscode.commands.executeCommand('agentd.newSession');
  t.equal(slow.model, 'echo-slow');
  await s.vscode.commands.executeCommand('agentd.sendMessage', 'one two three four five six seven eight nine ten eleven twelve');
  await until(() => events(s.view, 'message.delta').some((e) => e.sessionId === slow.id), 10_000, 'slow deltas');
  const cancelled = await s.vscode.commands.executeCommand('agentd.cancelTurn');
  t.match(cancelled, { cancelled: true });
  await until(() => events(s.view, 'turn.cancelled').length === 1, 10_000, 'turn.cancelled in the view');

  // Show sessions and switch back to the first one: its history comes back.
  s.answer.quickPick = (items: Json[]) => items.find((i) => i.id === session.id);
  await s.vscode.commands.executeCommand('agentd.showSessions');
  const last = s.view.posted.filter((m) => m.type === 'history').at(-1);
  t.equal(last.session.id, session.id);
  t.same(last.messages.map((m: Json) => m.content[0].text), ['hello from the view', 'Echo: hello from the view', 'from the palette', 'Echo: from the palette']);
  t.equal(controller.sessionId, session.id);
  t.equal(s.context.workspaceState.get('agentd.sessionId'), session.id, 'the current session is remembered');
});

t.test('the server dies: the extension says so, offers a restart, and the session is still there', async (t) => {
  const s = setup();
  s.ext.activate(s.context);
  t.teardown(() => s.ext.deactivate());
  s.providers.get('agentd.chat')!.resolveWebviewView(s.view);
  s.view.fromPage({ type: 'ready' });
  const session = await s.vscode.commands.executeCommand('agentd.newSession');
  await s.vscode.commands.executeCommand('agentd.sendMessage', 'remember me');
  await until(() => events(s.view, 'turn.completed').length === 1, 10_000, 'turn');

  s.answer.message = (m) => (m.kind === 'error' && m.items.includes('Restart') ? 'Restart' : undefined);
  const pid = Number(/agentd started \(pid (\d+)\)/.exec(s.outputs[0].text)![1]);
  process.kill(pid, 'SIGKILL');
  await until(() => s.shown.some((m) => m.kind === 'error' && /agentd server stopped/.test(m.message)), 10_000, 'the error message');
  const err = s.shown.find((m) => m.kind === 'error')!;
  t.same(err.items, ['Restart'], 'offers a restart');
  await until(() => s.shown.some((m) => m.kind === 'info' && /restarted/.test(m.message)), 15_000, 'restarted');
  t.equal(status(s), '$(hubot) agentd: ready');
  const pid2 = Number([...s.outputs[0].text.matchAll(/agentd started \(pid (\d+)\)/g)].at(-1)![1]);
  t.not(pid2, pid, 'a new server process');
  const history = s.view.posted.filter((m) => m.type === 'history').at(-1);
  t.equal(history.session.id, session.id, 'the session is reopened');
  t.same(history.messages.map((m: Json) => m.content[0].text), ['remember me', 'Echo: remember me']);
  await s.vscode.commands.executeCommand('agentd.sendMessage', 'and again');
  await until(() => events(s.view, 'turn.completed').length === 2, 10_000, 'a turn after the restart');
});
