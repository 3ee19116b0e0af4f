// The chat UI (bridge/web/ui) and what the agent changed, in headless Debian chromium against the
// real server with the scripted Anthropic server: a run_command turn that creates a file shows its
// changed files per turn (turn.diff) and in the sidebar (session/diff), with the diff; Revert from the
// message menu restores the files on disk and shows the turn as reverted, Unrevert brings them back;
// a todo_write call fills the plan panel; Compact shows a summary marker; "Load older" pages the
// transcript back (session/messages with `before`); "Deny always" answers deny_always and the next
// call of that tool is denied without asking. Screenshots go to .e2e/out/chat-ui/.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, noChromium, openPage, screenshotDir } from '../helpers/browser.js';
import { reply, startAnthropicServer, type AnthropicServer } from '../helpers/anthropic-server.js';
import { spawnHttp, tempDir, type HttpServer } from '../helpers/rpc-client.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const missing = noChromium();
if (missing) {
  t.skip(missing);
} else {
  const OUT = screenshotDir('chat-ui');
  let browser: Browser;
  let api: AnthropicServer;
  let server: HttpServer;
  let page: Page;
  const workspace = tempDir('agentd-chat-changes-');
  let errors: string[] = [];
  const shot = (name: string) => page.screenshot({ path: join(OUT, `${name}.png`) });
  const rest = (method: string, path: string, body?: Json) => fetch(`${server.url}/v1${path}`, {
    method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}),
  }).then(async (r) => ({ status: r.status, body: await r.json() as Json }));
  const send = async (text: string) => {
    await page.fill('#input', text);
    await page.press('#input', 'Enter');
  };
  const idle = () => page.waitForSelector('body:not(.busy)');
  const openFresh = async (name: string, extra: Json = {}) => {
    const s = (await rest('POST', '/session', { name, ...extra })).body;
    await page.evaluate((id) => localStorage.setItem('agentd.sessionId', id), s.id);
    await page.reload();
    await page.waitForFunction((id) => document.body.dataset.sessionId === id && document.body.dataset.state === 'connected', s.id);
    return s;
  };

  t.before(async () => {
    api = await startAnthropicServer();
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({
      defaultProvider: 'anthropic', defaultModel: 'claude-haiku-4-5',
      approvals: { rules: [{ tool: 'run_command', action: 'allow' }] },
    }));
    server = await spawnHttp({ dataDir, cwd: workspace, env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'sk-ant-test' } });
    browser = await launchChromium();
    ({ page, errors } = await openPage(browser));
    await page.goto(`${server.url}/`);
    await page.waitForSelector('body[data-state="connected"]');
  });
  t.teardown(async () => {
    await browser?.close();
    await server?.stop();
    await api?.close();
  });

  t.test('a run_command turn: its changed files per turn and in the sidebar, with diffs', async (t) => {
    await openFresh('changes');
    writeFileSync(join(workspace, 'keep.txt'), 'one\ntwo\n');
    api.script(
      reply.toolUse([{ id: 'toolu_mk', name: 'run_command', input: { command: 'printf "made by a command\\n" > made.txt && printf "one\\nTWO\\n" > keep.txt' } }]),
      reply.text(['Made it.']),
    );
    await send('make a file');
    const block = page.locator('.turn-changes');
    await block.waitFor();
    await idle();
    t.match(await block.locator('summary').textContent(), /2 files changed/, 'the turn says how many files changed');
    t.match(await block.locator('li[data-path="made.txt"]').textContent(), /added \+1 −0/, 'the created file, added');
    t.match(await block.locator('li[data-path="keep.txt"]').textContent(), /modified \+1 −1/, 'the edited file, modified');
    await block.locator('summary').click();
    await block.locator('li[data-path="made.txt"] .diff .d2h-ins', { hasText: 'made by a command' }).first().waitFor();
    t.pass('the turn diff (session/diff with turnId) drawn by the diff renderer');
    await page.waitForSelector('#changes [data-path="made.txt"]');
    await page.click('#changes [data-path="keep.txt"] summary');
    await page.locator('#changes [data-path="keep.txt"] .diff .d2h-del', { hasText: 'two' }).first().waitFor();
    t.ok(await page.locator('#changes [data-path="keep.txt"] .diff .d2h-ins', { hasText: 'TWO' }).count() > 0, 'the sidebar shows the session diff of a file run_command changed');
    await shot('turn-changes');
  });

  t.test('Revert from the message menu restores the files and marks the turn; Unrevert undoes it', async (t) => {
    const user = page.locator('.msg.user', { hasText: 'make a file' });
    const userId = await user.getAttribute('data-message-id');
    await user.locator('.msg-menu summary').click();
    await user.locator('button.revert').click();
    await page.waitForSelector('.revert-banner #unrevert');
    t.notOk(existsSync(join(workspace, 'made.txt')), 'the created file is gone');
    t.equal(readFileSync(join(workspace, 'keep.txt'), 'utf8'), 'one\ntwo\n', 'the edited file is back');
    t.ok(await user.evaluate((n) => n.classList.contains('reverted')), 'the user message shows as reverted');
    t.ok(await page.locator('.msg.assistant.reverted', { hasText: 'Made it.' }).count() === 1, 'the answer too');
    t.ok(await page.locator('details.tool.reverted[data-call-id="toolu_mk"]').count() === 1, 'and its tool card');
    t.match(await page.textContent('.revert-banner'), /2 files restored/);
    await page.waitForFunction(() => !document.querySelector('#changes [data-path="made.txt"]'));
    t.pass('the sidebar no longer lists the reverted change');
    const stored = (await rest('GET', `/session/${await page.evaluate(() => document.body.dataset.sessionId)}`)).body;
    t.ok(stored.messages.find((m: Json) => m.id === userId)?.reverted, 'the server marked the message reverted');
    await shot('reverted');
    // After a reload the reverted turn still shows as such, and can still be unreverted.
    await page.reload();
    await page.waitForSelector('body[data-state="connected"] .msg.user.reverted');
    await page.click('.revert-banner #unrevert');
    await page.waitForFunction(() => !document.querySelector('.reverted'));
    t.equal(readFileSync(join(workspace, 'made.txt'), 'utf8'), 'made by a command\n', 'unrevert: the created file is back');
    t.equal(readFileSync(join(workspace, 'keep.txt'), 'utf8'), 'one\nTWO\n', 'unrevert: the edit is back');
    t.equal(await page.locator('.revert-banner').count(), 0, 'the banner is gone');
  });

  t.test('a todo_write call fills the plan panel', async (t) => {
    api.script(
      reply.toolUse([{ id: 'toolu_plan', name: 'todo_write', input: { todos: [
        { content: 'Read the code', status: 'completed' },
        { content: 'Write the <b>fix</b>', status: 'in_progress', priority: 'high' },
        { content: 'Run the tests', status: 'pending' },
      ] } }]),
      reply.text(['Planned.']),
    );
    await send('plan it');
    await page.waitForSelector('#plan:not([hidden]) li.plan-pending');
    await idle();
    const items = await page.locator('#plan li').evaluateAll((ls) => ls.map((l) => [l.className, l.textContent]));
    t.same(items, [['plan-completed', '✓ Read the code'], ['plan-in_progress', '▸ Write the <b>fix</b>'], ['plan-pending', '○ Run the tests']], 'the entries, in order, as text');
    t.equal(await page.locator('#plan b').count(), 0, 'no HTML from the model');
    await page.reload();
    await page.waitForSelector('body[data-state="connected"] #plan li.plan-pending');
    t.pass('the plan comes back with the session (session/get plan)');
  });

  t.test('Compact: a summary marker in the transcript', async (t) => {
    api.script(reply.text(['The user made a file and planned a fix.']));
    await page.click('#compact');
    const marker = page.locator('.summary-marker');
    await marker.waitFor();
    await page.waitForFunction(() => /tokens/.test(document.querySelector('.summary-marker .tokens')?.textContent ?? ''));
    t.match(await marker.locator('summary').textContent(), /Conversation compacted \(about \d+ → \d+ tokens\)/);
    await marker.locator('summary').click();
    t.match(await marker.locator('.summary-text').textContent(), 'The user made a file and planned a fix.', 'the summary, folded');
    t.equal(await page.locator('.msg.user', { hasText: 'Summary of the conversation' }).count(), 0, 'not shown as a user message');
    await page.reload();
    await page.waitForSelector('body[data-state="connected"] .summary-marker');
    t.pass('the marker after a reload');
    await shot('compacted');
  });

  t.test('Load older pages the transcript back with session/messages before', async (t) => {
    const s = await openFresh('long', { provider: 'echo', model: 'echo' });
    for (let i = 1; i <= 30; i++) {
      const r = await rest('POST', `/session/${s.id}/message`, { content: `message number ${i}` });
      t.equal(r.status, 200, `message ${i}`, { diagnostic: r.status !== 200 });
      if (r.status !== 200) return;
    }
    await page.reload();
    await page.waitForSelector('body[data-state="connected"] #loadOlder');
    const shown = () => page.locator('.msg.user').evaluateAll((ms) => ms.map((m) => m.querySelector('.text')?.textContent?.trim()));
    const first = await shown();
    t.equal(first.length, 25, 'the newest 50 messages: 25 of them the user\'s');
    t.equal(first[0], 'message number 6');
    await page.click('#loadOlder');
    await page.waitForFunction(() => !document.getElementById('loadOlder'));
    const all = await shown();
    t.same(all, Array.from({ length: 30 }, (_, i) => `message number ${i + 1}`), 'every message once, in order');
    t.equal(await page.locator('.msg.assistant').count(), 30, 'and every answer');
    t.equal(await page.evaluate(() => document.getElementById('log')!.firstElementChild?.textContent?.includes('message number 1')), true, 'the oldest at the top');
  });

  t.test('Deny always: answered deny_always, the next call is denied without asking', async (t) => {
    await openFresh('deny always');
    api.script(
      reply.toolUse([{ id: 'toolu_w1', name: 'write_file', input: { path: 'no1.txt', content: 'x\n' } }]),
      reply.toolUse([{ id: 'toolu_w2', name: 'write_file', input: { path: 'no2.txt', content: 'y\n' } }]),
      reply.text(['Gave up.']),
    );
    await send('write twice');
    const card = page.locator('details.tool[data-call-id="toolu_w1"]');
    const button = card.locator('.approval button[data-decision="deny_always"]');
    await button.waitFor();
    t.equal(await button.getAttribute('aria-keyshortcuts'), 'Alt+Shift+N');
    t.same(await card.locator('.approval button').evaluateAll((bs) => bs.map((b) => b.textContent)), ['Allow once', 'Always allow', 'Deny', 'Deny always'], 'four choices');
    await shot('deny-always');
    await page.locator('#log').focus();
    await page.keyboard.press('Alt+Shift+N');
    await page.waitForSelector('details.tool.denied[data-call-id="toolu_w2"]');
    await page.waitForFunction(() => /Gave up/.test([...document.querySelectorAll('.msg.assistant')].pop()?.textContent ?? ''));
    t.match(await card.locator('.approval .decision').textContent(), 'deny always');
    t.equal(await page.locator('details.tool[data-call-id="toolu_w2"] .approval').count(), 0, 'the second call was not asked');
    t.notOk(existsSync(join(workspace, 'no1.txt')) || existsSync(join(workspace, 'no2.txt')), 'nothing written');
    const s = (await rest('GET', `/session/${await page.evaluate(() => document.body.dataset.sessionId)}`)).body.session;
    t.match(s.policy.rules, [{ tool: 'write_file', action: 'deny' }], 'a session deny rule');
    t.same(errors, [], 'no errors in the page');
  });
}
