/**
 * Bundles the server into dist/agentd/ with esbuild (run by `npm run build`, after tsc, which
 * type-checks and emits dist/server/ for tests and tools). One pre-linked ES module loads much
 * faster than hundreds of files resolved one by one: cold start is measured in bench/.
 * Dynamic `import()`s stay lazy: with code splitting each becomes its own chunk, loaded only
 * when first used (WebSocket in `serve --stdio`, providers' SDKs, the REST bridge).
 * Native modules stay external (better-sqlite3 loads its .node file relative to itself).
 */
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

const outdir = 'dist/agentd';
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { cli: 'server/cli.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  external: ['better-sqlite3'],
  // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
  banner: { js: "import { createRequire as __agentdRequire } from 'node:module'; const require = __agentdRequire(import.meta.url);" },
  logLevel: 'warning',
});
