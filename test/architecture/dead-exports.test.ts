// Dead code check: knip (configured in knip.json) finds no unused file, export, type or dependency.
// `npm run check:dead` runs knip alone.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers/rpc-client.js';

t.test('knip finds nothing unused', async (t) => {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'knip', 'bin', 'knip.js'), '--no-progress', '--no-config-hints'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 0, `knip:\n${r.stdout}${r.stderr}`);
});
