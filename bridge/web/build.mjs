// Builds the chat page into dist/web (served at / by bridge/page.ts): app.js (web/main.ts, the
// browser host, with the typed client library, bundled for browsers by esbuild), index.html and
// page.css, and the chat UI shared with the VS Code webview (bridge/web/ui → chat.js, chat.css).
// Run by `npm run build` after tsc.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { buildChatUI } from './ui/build.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const out = join(root, 'dist', 'web');
mkdirSync(out, { recursive: true });

await esbuild.build({
  entryPoints: [join(here, 'main.ts')],
  outfile: join(out, 'app.js'),
  bundle: true, platform: 'browser', format: 'iife', target: ['chrome100', 'firefox100', 'safari15'],
  minify: true, sourcemap: false, logLevel: 'warning', legalComments: 'none',
});
await buildChatUI(out);
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
copyFileSync(join(here, 'page.css'), join(out, 'page.css'));
