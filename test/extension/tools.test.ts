// Tool calls, approvals and API keys through the extension (built bundle, vscode stand-in, real
// bundled server over stdio).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { until } from '../helpers/agent-client.js';
import { ROOT, tempDir } from '../helpers/rpc-client.js';
import { createVscodeStub, FakeWebviewView, loadExtension } from '../helpers/vscode-stub.js';

const EXT = join(ROOT, 'extension');
type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

t.before(() => {
  process.env.AGENTD_CHECK_RESULTS = '1';
  process.env.AGENTD_LOG_LEVEL = 'info';
});

function setup(settings: Record<string, unknown> = {}) {
  const workspace = tempDir('agentd-ws-');
  const stub = createVscodeStub({ workspace, extensionPath: EXT, settings: { 'agentd.dataDir': tempDir(), ...settings } });
  const ext = loadExtension(stub.vscode);
  const view = new FakeWebviewView();
  const controller = ext.activate(stub.context);
  stub.providers.get('agentd.chat')!.resolveWebviewView(view);
  view.fromPage({ type: 'ready' });
  return { ...stub, ext, view, workspace, controller };
}
const events = (view: FakeWebviewView, type: string): Json[] =>
  view.posted.filter((m) => m.type === 'event' && m.event.type === type).map((m) => m.event);
const writeFile = (path: string, content: string) => `/tool write_file ${JSON.stringify({ path, content })}`;
const approvalsOn = (s: ReturnType<typeof setup>) => (s.controller.client.serverInfo.capabilities.methods as string[]).includes('tool/approve');

t.test('a tool call reaches the view with its input and output; approvals answered in the view', async (t) => {
  const s = setup();
  t.teardown(() => s.ext.deactivate());
  await s.vscode.commands.executeCommand('agentd.newSession');
  await s.vscode.commands.executeCommand('agentd.sendMessage', writeFile('allowed.txt', 'yes\n'));
  if (approvalsOn(s)) {
    const ask = await until(() => s.view.posted.find((m) => m.type === 'permission'), 15_000, 'the view is asked');
    t.match(ask.request, { tool: 'write_file', input: { path: 'allowed.txt' } });
    s.view.fromPage({ type: 'approve', permissionId: ask.request.permissionId, decision: 'allow_once' });
    await until(() => s.view.posted.some((m) => m.type === 'permissionClosed' && m.decision === 'allow_once'), 10_000, 'the view shows the answer');
  }
  await until(() => events(s.view, 'turn.completed').length === 1, 15_000, 'turn');
  t.match(events(s.view, 'tool.started')[0].data, { tool: 'write_file', input: { path: 'allowed.txt', content: 'yes\n' } }, 'tool input in the view');
  const done = events(s.view, 'tool.completed')[0].data;
  t.match(done, { tool: 'write_file', result: { type: 'tool_result', content: [{ type: 'text' }] } }, 'tool output in the view');
  t.notOk(done.result.isError, 'the call succeeded');
  t.equal(readFileSync(join(s.workspace, 'allowed.txt'), 'utf8'), 'yes\n', 'the agent wrote the file in the workspace');

  if (!approvalsOn(s)) return;
  await s.vscode.commands.executeCommand('agentd.sendMessage', writeFile('denied.txt', 'no\n'));
  const ask2 = await until(() => s.view.posted.filter((m) => m.type === 'permission')[1], 15_000, 'asked again');
  s.view.fromPage({ type: 'approve', permissionId: ask2.request.permissionId, decision: 'deny' });
  await until(() => events(s.view, 'turn.completed').length === 2, 15_000, 'turn after deny');
  t.notOk(existsSync(join(s.workspace, 'denied.txt')), 'a denied call writes nothing');
});

t.test('approvals with a modal message when so configured', async (t) => {
  const s = setup({ 'agentd.approvalBehavior': 'askModal' });
  t.teardown(() => s.ext.deactivate());
  await until(() => s.statusItems[0].text.endsWith('ready'), 15_000, 'ready');
  if (!approvalsOn(s)) { t.pass('# no approvals in this server'); return; }
  s.answer.message = (m) => (m.kind === 'warning' && /wants to run write_file/.test(m.message) ? 'Allow once' : undefined);
  await s.vscode.commands.executeCommand('agentd.newSession');
  await s.vscode.commands.executeCommand('agentd.sendMessage', writeFile('modal.txt', 'modal\n'));
  await until(() => events(s.view, 'turn.completed').length === 1, 15_000, 'turn');
  const modal = s.shown.find((m) => m.kind === 'warning')!;
  t.same(modal.items, ['Allow once', 'Allow always', 'Deny', 'Deny always'], 'Deny always: the server takes deny_always (capabilities.permissionDecisions)');
  t.match(modal.options, { modal: true });
  t.equal(readFileSync(join(s.workspace, 'modal.txt'), 'utf8'), 'modal\n');
});

t.test('Set API Key: SecretStorage and provider/auth, never settings; given again after a restart', async (t) => {
  const s = setup();
  t.teardown(() => s.ext.deactivate());
  const key = 'sk-ant-test-0123456789abcdef';
  await until(() => s.statusItems[0].text.endsWith('ready'), 15_000, 'ready');
  s.answer.quickPick = (items: Json[]) => items.find((i) => i.id === 'anthropic');
  s.answer.inputBox = (o: Json) => { t.equal(o.password, true, 'a password box'); return key; };
  const r = await s.vscode.commands.executeCommand('agentd.setApiKey');
  t.match(r, { providerId: 'anthropic' });
  t.equal(await s.context.secrets.get('agentd.apiKey.anthropic'), key, 'in SecretStorage');
  t.notOk(JSON.stringify(s.settings).includes(key), 'not in settings');
  t.notOk(JSON.stringify(s.context.globalState.keys().map((k) => s.context.globalState.get(k))).includes(key), 'not in globalState');
  const providers = await s.controller.client.listProviders();
  t.match(providers.providers.find((p: Json) => p.id === 'anthropic'), { authenticated: true });

  await s.vscode.commands.executeCommand('agentd.restartServer');
  const after = await s.controller.client.listProviders();
  t.match(after.providers.find((p: Json) => p.id === 'anthropic'), { authenticated: true }, 'authenticated after a restart');
  t.notOk(s.outputs[0].text.includes(key), 'never in the Output channel (server logs included)');
});
