#!/usr/bin/env node
// The agentd command. `npm run build` (run by `npm install` and `npm test`) emits the tsc output
// (dist/server/) and then the esbuild bundle (dist/agentd/), which starts faster. A bundle older
// than the tsc output (someone ran `npx tsc -p .` alone) is stale: run the tsc output instead.
import { statSync } from 'node:fs';

const mtime = (rel) => {
  try { return statSync(new URL(rel, import.meta.url)).mtimeMs; } catch { return -1; }
};
const bundled = mtime('../dist/agentd/cli.js') >= mtime('../dist/server/cli.js');
const { main } = bundled ? await import('../dist/agentd/cli.js') : await import('../dist/server/cli.js');

await main();
