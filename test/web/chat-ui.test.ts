// The chat UI (bridge/web/ui) in the page at `/`, in headless Debian chromium (playwright-core, no
// browser download), against the real server with the scripted Anthropic server: the most recent
// session and the config's default model on open; a streamed Markdown answer rendered block by block
// (heading, highlighted code with a Copy button); hostile Markdown (no script runs, no javascript:
// link); a run_command card with streamed output and its exit code; an edit approval in the card with
// its diff, allowed once, the file checked on disk; a denial with a reason the model receives;
// reconnect mid-stream without duplicated text; the sidebar lists, searches and renames sessions.
// Screenshots go to .e2e/out/chat-ui/.
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
  const workspace = tempDir('agentd-chat-ui-');
  let errors: string[] = [];
  const shot = (name: string) => page.screenshot({ path: join(OUT, `${name}.png`) });
  const lastAssistant = () => page.locator('.msg.assistant').last();
  /** The tool_result the scripted server was sent for a call id. */
  const toolResultSent = (id: string) => api.requests.flatMap((r) => r.body?.messages ?? []).flatMap((m: Json) => (Array.isArray(m.content) ? m.content : []))
    .find((c: Json) => c.type === 'tool_result' && c.tool_use_id === id);
  const send = async (text: string) => {
    await page.fill('#input', text);
    await page.press('#input', 'Enter');
  };

  t.before(async () => {
    api = await startAnthropicServer();
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ defaultProvider: 'anthropic', defaultModel: 'claude-haiku-4-5' }));
    server = await spawnHttp({ dataDir, cwd: workspace, env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'sk-ant-test' } });
    browser = await launchChromium();
    ({ page, errors } = await openPage(browser));
    // The test's handle on the page's WebSocket (to drop it mid-stream) and a list for the connection states.
    await page.addInitScript(() => {
      const w = window as unknown as { __sockets: WebSocket[]; __states: string[]; WebSocket: typeof WebSocket };
      w.__sockets = [];
      w.__states = [];
      const Native = w.WebSocket;
      w.WebSocket = class extends Native {
        constructor(url: string | URL, protocols?: string | string[]) { super(url, protocols); w.__sockets.push(this); }
      };
    });
  });
  t.teardown(async () => {
    await browser?.close();
    await server?.stop();
    await api?.close();
  });

  t.test('on open: the most recent session, the config default model in the picker', async (t) => {
    const create = (name: string) => fetch(`${server.url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) }).then((r) => r.json() as Promise<Json>);
    await create('older chat');
    const newer = await create('newer chat');
    await page.goto(`${server.url}/`);
    await page.waitForSelector('body[data-state="connected"]');
    await page.waitForFunction((id) => document.body.dataset.sessionId === id, newer.id);
    t.match(await page.textContent('#session'), 'newer chat', 'the most recent session is shown, not "no session"');
    t.equal(await page.inputValue('#model'), 'anthropic/claude-haiku-4-5', 'the picker starts on the config default');
    // The list is a second request after the session opened (bridge/web/ui/host.ts): wait for it.
    await page.waitForFunction(() => document.querySelectorAll('#sessionList li[data-session-id]').length >= 2, undefined, { timeout: 10_000 }).catch(() => {});
    t.equal(await page.locator('#sessionList li[data-session-id]').count(), 2, 'the sidebar lists both sessions');
    t.match(await page.textContent('#sessionList li:first-child'), 'newer chat', 'newest first');
    t.equal(await page.getAttribute('#input', 'aria-label'), 'Message to the agent', 'the prompt is labelled');
  });

  t.test('a streamed Markdown answer renders as HTML, block by block', async (t) => {
    api.script(reply.text([
      '# Plan\n\nSome **bold** text and `inline code`.\n\n',
      '```js\nconst answer', ' = 42;\nconsole.log(answer);\n```\n',
      '\nThat is all.',
    ], { delay: 300 }));
    await send('explain');
    // The heading as soon as it streams: it must be the same element when the reply is complete.
    await page.waitForSelector('.msg.assistant h1');
    await page.evaluate(() => { (document.querySelector('.msg.assistant h1') as unknown as { kept: boolean }).kept = true; });
    await page.waitForFunction(() => /That is all\./.test(document.querySelector('.msg.assistant')?.textContent ?? ''));
    await page.waitForSelector('body:not(.busy)');
    t.equal(await page.textContent('.msg.assistant h1'), 'Plan', 'a heading');
    t.equal(await page.textContent('.msg.assistant strong'), 'bold');
    t.ok(await page.evaluate(() => (document.querySelector('.msg.assistant h1') as unknown as { kept?: boolean }).kept), 'the heading was not re-rendered by later deltas');
    t.equal(await page.locator('.msg.assistant pre code.hljs.language-js .hljs-keyword').first().textContent(), 'const', 'the code block is highlighted');
    t.match(await page.textContent('.msg.assistant pre code'), 'console.log(answer);');
    t.equal(await page.locator('.msg.assistant .code-block button.copy').count(), 1, 'a Copy button on the block');
    t.equal(await page.locator('.msg.user').last().textContent().then((s) => s?.includes('explain')), true);
    await shot('markdown');
  });

  t.test('hostile Markdown: no script runs, no javascript: link, no remote image', async (t) => {
    api.script(reply.text([
      'Look: <script>window.pwned = 1</script>\n\n<img src="x" onerror="window.pwned = 2">\n\n',
      '[click me](javascript:window.pwned=3) and <a href="javascript:window.pwned=4" onclick="window.pwned=5">raw</a>\n\n',
      '![pixel](http://127.0.0.1:9/p.png) <iframe src="javascript:window.pwned=6"></iframe> <svg onload="window.pwned=7"></svg>\n\n',
      '[ok](https://example.com/) <style>body{display:none}</style>',
    ]));
    await send('be hostile');
    await page.waitForFunction(() => /ok/.test([...document.querySelectorAll('.msg.assistant')].pop()?.textContent ?? '') && !document.body.classList.contains('busy'));
    const msg = lastAssistant();
    t.equal(await msg.locator('script, img, iframe, svg, style, [onerror], [onclick], [onload]').count(), 0, 'no active element or handler');
    const hrefs = await msg.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    t.notOk(hrefs.some((h) => h && /^\s*javascript:/i.test(h)), `no javascript: href (${JSON.stringify(hrefs)})`);
    t.ok(hrefs.includes('https://example.com/'), 'an https link stays');
    t.match(await msg.textContent(), '<script>window.pwned = 1</script>', 'raw HTML is shown as text');
    await msg.locator('a', { hasText: 'click me' }).click().catch(() => undefined);
    t.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined, 'nothing the model wrote ran');
    t.ok(await page.isVisible('#log'), 'the page still shows');
  });

  t.test('a run_command card: approval in the card, streamed output, exit code', async (t) => {
    api.script(
      reply.toolUse([{ id: 'toolu_cmd', name: 'run_command', input: { command: 'echo first; sleep 1; echo second; exit 3' } }]),
      reply.text(['The command failed with 3.']),
    );
    await send('run it');
    const card = page.locator('details.tool[data-call-id="toolu_cmd"]');
    await card.locator('.approval button[data-decision="allow_once"]').waitFor();
    t.match(await card.locator('.tool-summary').textContent(), 'echo first', 'the summary names the command');
    t.match(await card.locator('.tool-status').textContent(), 'waiting for approval');
    await page.evaluate(() => {
      const w = window as unknown as { outputs: string[] };
      w.outputs = [];
      const out = document.querySelector('details.tool[data-call-id="toolu_cmd"] pre.output')!;
      new MutationObserver(() => w.outputs.push(out.textContent ?? '')).observe(out, { childList: true, characterData: true, subtree: true });
    });
    await card.locator('.approval button[data-decision="allow_once"]').click();
    await page.waitForSelector('details.tool.failed[data-call-id="toolu_cmd"]');
    const outputs = await page.evaluate(() => (window as unknown as { outputs: string[] }).outputs);
    t.ok(outputs.some((o) => o.includes('first') && !o.includes('second')), 'the output streamed (first before second)');
    t.match(await card.locator('pre.output').textContent(), /first\s+second/);
    t.match(await card.locator('.exit-code').textContent(), 'exit code 3');
    t.match(await card.locator('pre.command').textContent(), '$ echo first');
    t.match(await card.locator('.approval .decision').textContent(), 'allow once');
    await shot('tool-card');
  });

  t.test('an edit approval shows the diff in the card; Allow once writes the file', async (t) => {
    writeFileSync(join(workspace, 'notes.txt'), 'alpha\nbeta\ngamma\n');
    api.script(
      reply.toolUse([{ id: 'toolu_edit', name: 'edit_file', input: { path: 'notes.txt', old_string: 'beta', new_string: 'BETA <b>bold</b>' } }]),
      reply.text(['Edited.']),
    );
    await send('edit the notes');
    const card = page.locator('details.tool[data-call-id="toolu_edit"]');
    await card.locator('.approval button[data-decision="allow_once"]').waitFor();
    t.ok(await card.locator('.diff .d2h-del', { hasText: 'beta' }).count() > 0, 'the removed line');
    t.ok(await card.locator('.diff .d2h-ins', { hasText: 'BETA <b>bold</b>' }).count() > 0, 'the added line, as text');
    t.equal(await card.locator('.diff b').count(), 0, 'the diff does not interpret HTML');
    t.match(await card.locator('.approval .summary').textContent(), 'notes.txt');
    await shot('edit-approval');
    // Keyboard: Alt+Y answers the open approval (allow once).
    await page.locator('#log').focus();
    await page.keyboard.press('Alt+y');
    await page.waitForSelector('details.tool.done[data-call-id="toolu_edit"]');
    t.equal(readFileSync(join(workspace, 'notes.txt'), 'utf8'), 'alpha\nBETA <b>bold</b>\ngamma\n', 'the file on disk');
    await page.waitForSelector('#changes [data-path="notes.txt"]');
    await page.click('#changes [data-path="notes.txt"] summary');
    t.ok(await page.locator('#changes [data-path="notes.txt"] .diff .d2h-ins', { hasText: 'BETA' }).first().waitFor().then(() => true, () => false), 'the sidebar lists the changed file with its diff');
    await shot('edit-done');
  });

  t.test('a denial with a reason: the card says denied, the model gets the reason', async (t) => {
    api.script(
      reply.toolUse([{ id: 'toolu_deny', name: 'write_file', input: { path: 'denied.txt', content: 'nope\n' } }]),
      reply.text(['Understood.']),
    );
    await send('write a file');
    const card = page.locator('details.tool[data-call-id="toolu_deny"]');
    await card.locator('.approval input.reason').fill('not in this repository');
    await card.locator('.approval button[data-decision="deny"]').click();
    await page.waitForSelector('details.tool.denied[data-call-id="toolu_deny"]');
    await page.waitForFunction(() => /Understood/.test([...document.querySelectorAll('.msg.assistant')].pop()?.textContent ?? ''));
    t.notOk(existsSync(join(workspace, 'denied.txt')), 'not written');
    t.match(toolResultSent('toolu_deny')?.content?.[0]?.text ?? toolResultSent('toolu_deny')?.content, 'not in this repository', 'the reason reached the model');
    t.match(await card.locator('.approval .decision').textContent(), 'deny');
    await shot('denied');
  });

  t.test('reconnect mid-stream: resumed from the last seq, no duplicated text', async (t) => {
    const words = Array.from({ length: 16 }, (_, i) => `word${i + 1} `);
    api.script(reply.text(words, { delay: 120 }));
    await send('stream slowly');
    await page.waitForFunction(() => /word3 /.test([...document.querySelectorAll('.msg.assistant')].pop()?.textContent ?? ''));
    const before = await page.evaluate(() => {
      const w = window as unknown as { __states: string[]; __sockets: WebSocket[]; agentd: { client: { onStateChange(f: (s: string) => void): void } } };
      w.__states.length = 0;
      w.agentd.client.onStateChange((s) => w.__states.push(s));
      const open = w.__sockets.filter((s) => s.readyState === WebSocket.OPEN);
      open.forEach((s) => s.close(4000, 'test drops the connection'));
      return { sockets: w.__sockets.length, open: open.length };
    });
    t.equal(before.open, 1, `one open WebSocket dropped (${before.sockets} made)`);
    await page.waitForFunction(() => /word16/.test([...document.querySelectorAll('.msg.assistant')].pop()?.textContent ?? '') && !document.body.classList.contains('busy'));
    await page.waitForSelector('body[data-state="connected"]');
    const states = await page.evaluate(() => (window as unknown as { __states: string[] }).__states);
    t.ok(states.includes('reconnecting'), `the page said reconnecting (${states.join(' → ')})`);
    t.equal((await lastAssistant().locator('.text').textContent())?.trim(), words.join('').trim(), 'every word exactly once');
    t.equal(await page.locator('.msg.assistant', { hasText: 'word1 ' }).count(), 1, 'one bubble');
  });

  t.test('the sidebar lists, searches and renames sessions', async (t) => {
    const current = await page.evaluate(() => document.body.dataset.sessionId);
    const item = page.locator(`#sessionList li[data-session-id="${current}"]`);
    await item.locator('button.rename').click();
    await page.locator('#sessionList input.rename-input').fill('Renamed in the sidebar');
    await page.keyboard.press('Enter');
    await page.waitForFunction((id) => /Renamed in the sidebar/.test(document.querySelector(`#sessionList li[data-session-id="${id}"]`)?.textContent ?? ''), current);
    await page.waitForFunction(() => /Renamed in the sidebar/.test(document.getElementById('session')?.textContent ?? ''));
    t.pass('renamed: the list and the header say so');
    const renamed = await fetch(`${server.url}/v1/session/${current}`).then((r) => r.json() as Promise<Json>);
    t.equal(renamed.session.name, 'Renamed in the sidebar', 'stored on the server');
    await page.fill('#sessionSearch', 'RENAMED');
    await page.waitForFunction(() => document.querySelectorAll('#sessionList li[data-session-id]').length === 1);
    t.equal(await page.getAttribute('#sessionList li[data-session-id]', 'data-session-id'), current, 'the search finds it');
    await page.fill('#sessionSearch', 'older');
    await page.waitForFunction(() => /older chat/.test(document.querySelector('#sessionList')?.textContent ?? '') && document.querySelectorAll('#sessionList li[data-session-id]').length === 1);
    await page.click('#sessionList li[data-session-id] button.open');
    await page.waitForFunction(() => /older chat/.test(document.getElementById('session')?.textContent ?? ''));
    t.equal(await page.locator('.msg').count(), 0, 'switched to the other (empty) session');
    await page.fill('#sessionSearch', '');
    await page.waitForFunction(() => document.querySelectorAll('#sessionList li[data-session-id]').length === 2);
    await shot('sidebar');
    t.same(errors, [], 'no errors in the page');
  });
}
