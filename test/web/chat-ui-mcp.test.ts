// MCP sign-in from the chat page, in headless Debian chromium: an HTTP MCP server protected by the
// local authorization server (test/helpers/mcp-oauth.ts, as in test/mcp/auth.test.ts) shows in the
// sidebar as needing sign-in; "Sign in" calls mcp/auth/start with the page as the redirect, opens the
// URL in a new window (no opener), the authorization server redirects back to the page, which hands
// code and state to the page that asked (BroadcastChannel) and closes; mcp/auth/callback connects the
// server and the sidebar says so. A window message from another window is not taken for the host's.
import { join } from 'node:path';
import t from 'tap';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, noChromium, openPage, screenshotDir } from '../helpers/browser.js';
import { writeConfig } from '../helpers/mcp.js';
import { startProtectedMcp, type ProtectedMcp } from '../helpers/mcp-oauth.js';
import { spawnHttp, tempDir, type HttpServer } from '../helpers/rpc-client.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const missing = noChromium();
if (missing) {
  t.skip(missing);
} else {
  const OUT = screenshotDir('chat-ui');
  let browser: Browser;
  let mcp: ProtectedMcp;
  let server: HttpServer;
  let page: Page;
  let errors: string[] = [];
  const mcpStatus = () => fetch(`${server.url}/v1/mcp`).then((r) => r.json() as Promise<Json>).then((b) => b.servers.find((s: Json) => s.name === 'remote')?.status);

  t.before(async () => {
    mcp = await startProtectedMcp();
    const dataDir = tempDir();
    writeConfig(dataDir, { defaultProvider: 'echo', mcpServers: { remote: { url: mcp.url, autoConnect: true } } });
    server = await spawnHttp({ dataDir, cwd: tempDir('agentd-chat-mcp-') });
    for (let i = 0; i < 150 && (await mcpStatus()) !== 'needs_auth'; i++) await new Promise((r) => setTimeout(r, 100));
    browser = await launchChromium();
    ({ page, errors } = await openPage(browser));
  });
  t.teardown(async () => {
    await browser?.close();
    await server?.stop();
    await mcp?.close();
  });

  t.test('Sign in: mcp/auth/start, the URL in a new window, the redirect back, connected', async (t) => {
    t.equal(await mcpStatus(), 'needs_auth', 'the server starts out needing sign-in');
    await page.goto(`${server.url}/`);
    await page.waitForSelector('body[data-state="connected"]');
    const item = page.locator('#mcp li[data-server="remote"]');
    await item.locator('button.signin').waitFor();
    t.match(await item.textContent(), 'needs sign-in');
    await page.screenshot({ path: join(OUT, 'mcp-needs-auth.png') });
    const popup = page.waitForEvent('popup');
    await item.locator('button.signin').click();
    const w = await popup;
    await w.waitForEvent('close', { timeout: 20_000 });
    t.pass('the sign-in window went to the authorization server, came back and closed');
    t.equal(mcp.as.registrations, 1, 'registered dynamically');
    await page.waitForFunction(() => /connected/.test(document.querySelector('#mcp li[data-server="remote"] .status')?.textContent ?? ''));
    t.equal(await item.locator('button.signin').count(), 0, 'no Sign in once connected');
    t.equal(await mcpStatus(), 'connected', 'the server is connected');
    t.ok(mcp.as.validAccessTokens.size > 0 && mcp.seenTokens.length > 0, 'the MCP server saw a token');
    const redirect = new URL(mcp.as.tokenRequests[0].params.redirect_uri);
    t.equal(`${redirect.origin}${redirect.pathname}`, `${server.url}/`, 'the page was the redirect');
    t.equal(redirect.searchParams.get('mcpAuth'), 'remote');
    await page.screenshot({ path: join(OUT, 'mcp-signed-in.png') });
  });

  t.test('the redirect page alone: hands over nothing it was not given, drops the code from the address', async (t) => {
    const p = await browser.newPage();
    await p.goto(`${server.url}/?mcpAuth=remote&error=access_denied`);
    t.match(await p.textContent('body'), 'Sign-in to remote failed: access_denied');
    t.equal(new URL(p.url()).search, '', 'no query left in the address bar');
    t.equal(await p.locator('#chat .chat-root, #log').count(), 0, 'no chat in the redirect window');
    await p.close().catch(() => undefined);
  });

  t.test('a message from another window is not taken for the host', async (t) => {
    // The UI's listener was added first, so it has run when this one hears the message.
    const heard = page.evaluate(() => new Promise<void>((resolve) => {
      window.addEventListener('message', (ev) => { if (ev.data?.message === 'spoofed by another window') setTimeout(resolve, 0); });
    }));
    const popup = page.waitForEvent('popup');
    await page.evaluate(() => { window.open('about:blank'); });
    const w = await popup;
    // A window this page opened posts what the host would: it must not show.
    await w.evaluate(() => { (window.opener as Window).postMessage({ type: 'error', message: 'spoofed by another window' }, '*'); });
    await heard;
    await w.close();
    t.equal(await page.locator('.note.error', { hasText: 'spoofed' }).count(), 0, 'ignored');
    t.same(errors, [], 'no errors in the page');
  });
}
