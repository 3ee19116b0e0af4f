/**
 * Bundles the server into dist/agentd/ with esbuild (run by `npm run build`, after tsc, which
 * type-checks and emits dist/server/ for tests and tools). One pre-linked ES module loads much
 * faster than hundreds of files resolved one by one: cold start is measured in bench/.
 * Dynamic `import()`s stay lazy: with code splitting each becomes its own chunk, loaded only
 * when first used (WebSocket in `serve --stdio`, providers' SDKs, the REST bridge).
 * Native modules stay external (better-sqlite3 loads its .node file relative to itself), and so
 * does react-devtools-core, an optional peer that Ink imports only with DEV=true.
 * server/rpc/ajv-backend.ts is swapped for validators precompiled here (ajv standalone code
 * from the same schema bundle and options), so the server never compiles a schema at run time.
 * Each definition's validator is its own CommonJS file (dist/agentd/validators/NAME.cjs),
 * required on its first use: all of them in one module (about 600 KB) took some 15 ms to load
 * at every start, and `agentd run` uses a handful.
 */
import { Ajv } from 'ajv';
import * as formatsModule from 'ajv-formats';
import standaloneModule from 'ajv/dist/standalone/index.js';
import { build } from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { schemaBundle } = await import(join(root, 'dist', 'protocol', 'index.js'));
const { AJV_OPTIONS } = await import(join(root, 'dist', 'server', 'rpc', 'ajv-backend.js'));

/** One CommonJS module of precompiled validator code per schema definition, by definition name. */
function precompiledValidators() {
  const addFormats = formatsModule.default.default ?? formatsModule.default;
  const standaloneCode = standaloneModule.default ?? standaloneModule;
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true, esm: false } });
  addFormats(ajv);
  ajv.addSchema(schemaBundle, 'agentd');
  return Object.fromEntries(Object.keys(schemaBundle.definitions).map((d) => {
    if (!/^[A-Za-z0-9_]+$/.test(d)) throw new Error(`schema definition ${d}: not usable as a file name`);
    return [d, standaloneCode(ajv, ajv.getSchema(`agentd#/definitions/${d}`))];
  }));
}
const validators = precompiledValidators();

const precompiled = {
  name: 'precompiled-validators',
  setup(b) {
    b.onResolve({ filter: /[/\\]ajv-backend\.js$/ }, () => ({ path: 'ajv-backend', namespace: 'precompiled' }));
    // protocol/index.ts re-exports the schema bundle (70 KB, only the REST bridge reads it, from
    // protocol/generated/schema.js itself): through the re-export esbuild would keep it in a chunk
    // that every start loads. In the bundle the re-export is a stand-in that says so if used.
    b.onResolve({ filter: /[/\\]generated[/\\]schema\.js$/ }, (a) => (/[/\\]protocol[/\\]index\.ts$/.test(a.importer) ? { path: 'schema-reexport', namespace: 'precompiled' } : undefined));
    b.onLoad({ filter: /^schema-reexport$/, namespace: 'precompiled' }, () => ({
      loader: 'js',
      contents: `export const schemaBundle = new Proxy({}, { get() { throw new Error('in the bundle, import schemaBundle from protocol/generated/schema.js, not protocol/index.js'); } });`,
    }));
    b.onLoad({ filter: /^ajv-backend$/, namespace: 'precompiled' }, () => ({
      loader: 'js',
      resolveDir: root,
      // The chunk that holds this code sits in dist/agentd/, beside validators/.
      contents: `import { createRequire } from 'node:module';
const load = createRequire(import.meta.url);
const names = new Set(${JSON.stringify(Object.keys(validators))});
export const compileValidator = (definition) => (names.has(definition) ? load(\`./validators/\${definition}.cjs\`) : undefined);
export const errorsText = (errors) => (errors ?? []).map((e) => \`data\${e.instancePath} \${e.message}\`).join(', ') || 'No errors';`,
    }));
  },
};

const outdir = 'dist/agentd';
rmSync(outdir, { recursive: true, force: true });
const result = await build({
  // The search worker (list_files, grep) is its own entry: search.ts starts it from the same folder.
  entryPoints: { cli: 'server/cli.ts', 'search-worker': 'server/tools/search-worker.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  external: ['better-sqlite3', 'react-devtools-core'],
  // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
  banner: { js: "import { createRequire as __agentdRequire } from 'node:module'; const require = __agentdRequire(import.meta.url);" },
  plugins: [precompiled],
  metafile: !!process.env.BUNDLE_META,
  logLevel: 'warning',
});
mkdirSync(join(outdir, 'validators'));
for (const [d, code] of Object.entries(validators)) writeFileSync(join(outdir, 'validators', `${d}.cjs`), code);
if (process.env.BUNDLE_META) (await import('node:fs')).writeFileSync(process.env.BUNDLE_META, JSON.stringify(result.metafile));
