// Headless Debian chromium for the browser tests, driven by playwright-core (no browser download):
// where it is, the flags it runs with, and a page with the tests' defaults that collects page errors.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from './rpc-client.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** No sandbox (root in CI), no GPU, nothing that reaches the network on its own. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Why a browser test file is skipped, or undefined when chromium is installed. */
export const noChromium = (): string | undefined => (existsSync(CHROMIUM)
  ? undefined
  : `no chromium at ${CHROMIUM}: apt-get install -y chromium (bash test/e2e/install.sh does it; .ci/run runs that)`);

export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });

export interface BrowserPage {
  context: BrowserContext;
  page: Page;
  /** The messages of the errors thrown in the page (`pageerror`). */
  errors: string[];
}

/** A page in a new browser context, with a default timeout for its waits. */
export async function openPage(browser: Browser, { width = 1200, height = 800, timeout = 20_000 } = {}): Promise<BrowserPage> {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { context, page, errors };
}

/** The folder under .e2e/out/ where a test puts its screenshots, created. */
export function screenshotDir(...parts: string[]): string {
  const dir = join(ROOT, '.e2e', 'out', ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}
