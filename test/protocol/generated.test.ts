// The generated files (types, constants, schema bundle, OpenAPI) must match their sources.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers/rpc-client.js';

t.test('protocol/generated is fresh', async (t) => {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'protocol/generate.ts', '--check'], { cwd: ROOT, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
});

t.test('every method in the manifest names existing definitions and a group file', async (t) => {
  const { methodTable, schemaBundle } = await import('../../protocol/index.js');
  for (const [name, m] of Object.entries(methodTable as Record<string, { params: string; result?: string }>)) {
    t.ok((schemaBundle.definitions as Record<string, unknown>)[m.params], `${name} params`);
    if (m.result) t.ok((schemaBundle.definitions as Record<string, unknown>)[m.result], `${name} result`);
  }
});
