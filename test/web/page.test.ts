// The chat page served by the bridge at `/`, in headless Debian chromium (playwright-core, no
// browser download): connect, create a session, send a message and watch the reply stream, switch
// to REST + SSE, the session sidebar, answer an approval, API key prompt; a screenshot goes to .e2e/out/web-chat.png.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, noChromium, openPage, screenshotDir } from '../helpers/browser.js';
import { AGENTD, spawnHttp, tempDir } from '../helpers/rpc-client.js';

const missing = noChromium();
if (missing) {
  t.skip(missing);
} else {
  let browser: Browser;
  t.before(async () => { browser = await launchChromium(); });
  t.teardown(() => browser?.close());

  const newPage = async (t: typeof import("tap").default) => {
    const { context, page, errors } = await openPage(browser, { width: 900, height: 700, timeout: 15_000 });
    t.teardown(() => context.close());
    pageErrors.set(page, errors);
    return page;
  };
  const pageErrors = new WeakMap<Page, string[]>();
  const connected = (page: Page) => page.waitForSelector('body[data-state="connected"]');

  t.test('the page over WebSocket and REST + SSE against the real server', async (t) => {
    const dataDir = tempDir();
    const workspace = tempDir('agentd-web-ws-');
    const server = await spawnHttp({ dataDir, cwd: workspace });
    t.teardown(() => server.stop());

    const head = await fetch(`${server.url}/`);
    t.equal(head.status, 200);
    t.match(head.headers.get('content-type'), /text\/html/);
    t.match(head.headers.get('content-security-policy'), /connect-src 'self'/);
    t.equal((await fetch(`${server.url}/nope.js`)).status, 404, 'only the page files are served');

    const page = await newPage(t);
    await page.goto(`${server.url}/`);
    await connected(page);
    t.match(await page.textContent('#connection'), 'connected (websocket)');

    // New session with the slow echo model, then a message: the reply grows in place.
    await page.selectOption('#model', 'echo/echo-slow');
    await page.click('#new');
    await page.waitForFunction(() => /echo\/echo-slow/.test(document.getElementById('session')!.textContent ?? ''));
    const sessionId = await page.evaluate(() => document.body.dataset.sessionId);
    t.match(sessionId, /^ses_/);
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      new MutationObserver(() => {
        const b = [...document.querySelectorAll('.msg.assistant .text')].pop();
        if (b && b.textContent && seen[seen.length - 1] !== b.textContent) seen.push(b.textContent);
      }).observe(document.getElementById('log')!, { subtree: true, childList: true, characterData: true });
    });
    const words = Array.from({ length: 12 }, (_, i) => `w${i + 1}`).join(' ');
    await page.fill('#input', `hello ${words}`);
    await page.press('#input', 'Enter');
    await page.waitForFunction((w) => [...document.querySelectorAll('.msg.assistant .text')].pop()?.textContent === `Echo: hello ${w}`, words);
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    t.ok(seen.length >= 3, `the reply streamed (${seen.length} renderings)`);
    t.ok(seen.slice(0, -1).every((s) => `Echo: hello ${words}`.startsWith(s)), 'each rendering a prefix of the reply');
    t.equal(await page.locator('.msg.user .text').last().textContent(), `hello ${words}`);

    // A tool call shows as a block with input and output.
    await page.fill('#input', '/tool list_files {"path":"."}');
    await page.press('#input', 'Enter');
    await page.waitForSelector('details.tool.done, details.tool.failed');
    t.match(await page.textContent('details.tool pre.input'), '"path": "."');
    await page.waitForFunction(() => /Tool (result|error)/.test([...document.querySelectorAll('.msg.assistant .text')].pop()?.textContent ?? ''));

    // Reload over REST + SSE: the session comes back with its history; a new message streams in.
    await page.goto(`${server.url}/?transport=rest`);
    await connected(page);
    t.match(await page.textContent('#connection'), 'connected (rest)');
    await page.waitForFunction((w) => [...document.querySelectorAll('.msg.assistant .text')].some((e) => e.textContent === `Echo: hello ${w}`), words);
    t.equal(await page.evaluate(() => document.body.dataset.sessionId), sessionId, 'same session after reload');
    await page.fill('#input', 'over rest');
    await page.click('#send');
    await page.waitForFunction(() => [...document.querySelectorAll('.msg.assistant .text')].pop()?.textContent === 'Echo: over rest');
    t.pass('reply over REST + SSE');

    // The session sidebar: a new session, then back to the first one.
    await page.click('#new');
    await page.waitForFunction((id) => document.body.dataset.sessionId !== id, sessionId);
    t.equal(await page.locator('.msg').count(), 0, 'the new session is empty');
    await page.click(`#sessionList li[data-session-id="${sessionId}"] button.open`);
    await page.waitForFunction((id) => document.body.dataset.sessionId === id, sessionId);
    await page.waitForFunction(() => [...document.querySelectorAll('.msg.assistant .text')].pop()?.textContent === 'Echo: over rest');
    t.pass('the sidebar switches sessions');

    // write_file on the real server asks for approval (default policy); the page answers it.
    await page.fill('#input', '/tool write_file {"path":"x.txt","content":"hi"}');
    await page.press('#input', 'Enter');
    await page.click('.approval:not(.answered) button[data-decision="allow_once"]', { timeout: 20_000 });
    await page.waitForFunction(() => /^Tool result:/.test([...document.querySelectorAll('.msg.assistant .text')].pop()?.textContent ?? ''));
    t.equal(readFileSync(join(workspace, 'x.txt'), 'utf8'), 'hi', 'write_file wrote the file');

    // Once a key exists the page still loads, asks for the key, and works with it (WebSocket subprotocol token).
    const created = spawnSync(process.execPath, [AGENTD, 'key', 'create', '--name', 'web', '--data-dir', dataDir], { encoding: 'utf8' });
    t.equal(created.status, 0, created.stderr);
    const key = created.stdout.trim();
    t.equal((await fetch(`${server.url}/v1/sessions`)).status, 401, 'the API wants the key now');
    await page.goto(`${server.url}/?transport=websocket`);
    await page.waitForFunction(() => /API key/.test(document.getElementById('connection')!.textContent ?? ''));
    t.pass('the page loads without a key and asks for one');
    await page.fill('#apiKey', key);
    await page.click('#connect');
    await connected(page);
    await page.fill('#input', 'with a key');
    await page.press('#input', 'Enter');
    await page.waitForFunction(() => [...document.querySelectorAll('.msg.assistant .text')].pop()?.textContent === 'Echo: with a key');
    t.pass('chat with the key');
    await page.screenshot({ path: join(screenshotDir(), 'web-chat.png') });
    t.same(pageErrors.get(page), [], 'no errors in the page');
  });

  t.test('approvals in the page against the real server: allow once, deny', async (t) => {
    const workspace = tempDir('agentd-web-approval-');
    const http = await spawnHttp({ dataDir: tempDir(), cwd: workspace });
    t.teardown(() => http.stop());
    const server = { url: http.url, workspace };
    const page = await newPage(t);
    await page.goto(`${server.url}/`);
    await connected(page);
    await page.fill('#input', '/tool write_file {"path":"x.txt","content":"hi"}');
    await page.press('#input', 'Enter');
    await page.waitForSelector('.approval .buttons button[data-decision="allow_once"]');
    t.match(await page.textContent('.approval .title'), 'Allow write_file?');
    t.match(await page.textContent('.approval .summary'), /x\.txt/);
    await page.click('.approval button[data-decision="allow_once"]');
    await page.waitForSelector('.approval .decision');
    t.match(await page.textContent('.approval .decision'), 'allow once');
    await page.waitForFunction(() => [...document.querySelectorAll('.msg.assistant .text')].pop()?.textContent === 'Tool result: Wrote 2 bytes to x.txt');
    t.equal(readFileSync(join(server.workspace, 'x.txt'), 'utf8'), 'hi', 'the file was written after the approval');
    t.match(await page.textContent('details.tool.done pre.output'), 'Wrote 2 bytes');
    await page.screenshot({ path: join(screenshotDir(), 'web-approval.png') });

    await page.fill('#input', '/tool write_file {"path":"y.txt","content":"no"}');
    await page.press('#input', 'Enter');
    await page.click('.approval:not(.answered) button[data-decision="deny"]');
    await page.waitForFunction(() => /Tool error: Permission denied/.test([...document.querySelectorAll('.msg.assistant .text')].pop()?.textContent ?? ''));
    t.notOk(existsSync(join(server.workspace, 'y.txt')), 'denied: not written');
    t.same(pageErrors.get(page), [], 'no errors in the page');
  });
}
