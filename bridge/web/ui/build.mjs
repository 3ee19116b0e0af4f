// Bundles the chat UI (bridge/web/ui) into `<outDir>/chat.js` (IIFE for browsers and webviews) and
// `<outDir>/chat.css` (its styles with diff2html's). Used by bridge/web/build.mjs (the page) and
// extension/build.mjs (the webview): one UI, two hosts.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

export async function buildChatUI(outDir) {
  const common = { bundle: true, minify: true, sourcemap: false, logLevel: 'warning', legalComments: 'none', metafile: true };
  const js = await esbuild.build({
    ...common, entryPoints: [join(here, 'index.ts')], outfile: join(outDir, 'chat.js'),
    platform: 'browser', format: 'iife', target: ['chrome100', 'firefox100', 'safari15'],
  });
  const css = await esbuild.build({ ...common, entryPoints: [join(here, 'chat.css')], outfile: join(outDir, 'chat.css') });
  const size = (r) => Object.values(r.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  return { js: size(js), css: size(css) };
}
