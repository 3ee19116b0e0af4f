/**
 * The chat page at `/`: static files built by bridge/web/build.mjs into dist/web (the page's own
 * index.html, page.css and app.js, plus the chat UI shared with the VS Code extension's webview,
 * bridge/web/ui, built into chat.js and chat.css). Only the files in PAGE_FILES are served.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RequestHandler } from 'express';
import { PAGE_FILES } from '../server/security/guard.js';

/** dist/web next to dist/bridge (or, running from the sources, the built one under dist/). */
const WEB_DIR = ['../web/', '../dist/web/'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
  .find((dir) => existsSync(`${dir}app.js`)) ?? fileURLToPath(new URL('../web/', import.meta.url));

const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

/** The page may talk to its own origin only (ws:// and http:// alike), and run only its own scripts. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function chatPage(): RequestHandler {
  const files = new Map<string, Buffer>();
  return (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !(PAGE_FILES as readonly string[]).includes(req.path)) return next();
    const name = req.path === '/' ? 'index.html' : req.path.slice(1);
    let body = files.get(name);
    if (!body) {
      const file = WEB_DIR + name;
      if (!existsSync(file)) return next();
      body = readFileSync(file);
      files.set(name, body);
    }
    res.set({
      'content-type': TYPES[name.split('.').pop()!] ?? 'application/octet-stream',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-cache',
    });
    res.status(200).end(req.method === 'HEAD' ? undefined : body);
  };
}
