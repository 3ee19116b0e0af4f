// Builds the extension: dist/extension.cjs (the extension, CJS, `vscode` external) and
// dist/server/agentd.cjs (the whole agentd server in one CJS file) with better-sqlite3's native
// addon next to it, and dist/webview/ (the chat UI shared with the page at `/`, bridge/web/ui). `node extension/build.mjs [--check]` (--check also type-checks with tsc).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { buildChatUI } from '../bridge/web/ui/build.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const require = createRequire(join(root, 'package.json'));
const dist = join(here, 'dist');
const t0 = Date.now();

if (process.argv.includes('--check')) {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
}

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'server'), { recursive: true });

// ESM sources use import.meta.url; in a CJS bundle it becomes the bundle's own file URL.
const importMetaUrl = {
  banner: { js: "const __import_meta_url = require('url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__import_meta_url' },
};

await esbuild.build({
  entryPoints: [join(here, 'src', 'extension.ts')],
  outfile: join(dist, 'extension.cjs'),
  bundle: true, platform: 'node', format: 'cjs', target: 'node20',
  external: ['vscode'], sourcemap: true, logLevel: 'warning', ...importMetaUrl,
});

/** better-sqlite3 loads its addon through `bindings`; in the bundle it sits next to agentd.cjs. */
const nativeAddon = {
  name: 'native-addon',
  setup(build) {
    build.onResolve({ filter: /^bindings$/ }, () => ({ path: 'bindings', namespace: 'native-addon' }));
    build.onLoad({ filter: /.*/, namespace: 'native-addon' }, () => ({
      contents: "module.exports = (name) => require(require('path').join(__dirname, name));",
      loader: 'js',
    }));
  },
};

// The bundled server only serves the extension (`serve --stdio`): the terminal UI (Ink, React, yoga's
// top-level await, which CJS cannot hold) stays out of it.
const noTui = {
  name: 'no-tui',
  setup(build) {
    build.onResolve({ filter: /[/\\]tui[/\\]index\.js$/ }, () => ({ path: 'tui', namespace: 'no-tui' }));
    build.onLoad({ filter: /.*/, namespace: 'no-tui' }, () => ({
      contents: "export async function runTui() { throw new Error('agentd tui is not part of the VS Code extension\\'s bundled server: install agentd to use it'); }",
      loader: 'js',
    }));
  },
};

await esbuild.build({
  entryPoints: [join(here, 'src', 'server-main.ts')],
  outfile: join(dist, 'server', 'agentd.cjs'),
  bundle: true, platform: 'node', format: 'cjs', target: 'node20',
  plugins: [nativeAddon, noTui], sourcemap: false, logLevel: 'warning', ...importMetaUrl,
  // Optional dependencies of bundled libraries that agentd never loads.
  external: ['pino-pretty', 'bufferutil', 'utf-8-validate'],
});
copyFileSync(require.resolve('better-sqlite3/build/Release/better_sqlite3.node'), join(dist, 'server', 'better_sqlite3.node'));
// The chat view's UI: the same module as the page at `/`.
const ui = await buildChatUI(join(dist, 'webview'));
console.log(`extension built in ${Date.now() - t0} ms (webview chat.js ${Math.round(ui.js / 1024)} KB, chat.css ${Math.round(ui.css / 1024)} KB)`);
