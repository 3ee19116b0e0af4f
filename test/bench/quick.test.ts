// The benchmark suite still runs: `--quick` writes the results table (figures are not checked here;
// speed belongs in bench/, not in tests).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, tempDir } from '../helpers/rpc-client.js';

// About a minute alone; several times that while the rest of the suite runs beside it.
t.setTimeout(480_000);

t.test('npm run bench -- --quick writes the table', async (t) => {
  const out = join(tempDir('agentd-bench-test-'), 'RESULTS.md');
  const code = await new Promise<number | null>((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'run.js'), '--quick', '--out', out], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (c) => { if (c !== 0) t.comment(err); resolve(c); });
  });
  t.equal(code, 0, 'the bench exits 0 (no suite failed)');
  const doc = readFileSync(out, 'utf8');
  t.match(doc, /- CPU: .+ × \d+/, 'machine description');
  t.match(doc, /\| group \| measure \| agentd \(median\) \| baseline \|/, 'table header');
  for (const group of ['1. cold start', '2. throughput', '4. concurrency', '5. memory', '6. persistence']) {
    t.match(doc, new RegExp(`^\\| ${group.replace('.', '\\.')} \\| .+ \\| [0-9.]+ \\| [0-9.]+–[0-9.]+ \\|`, 'm'), `a row with a ratio for ${group}`);
  }
  t.notMatch(doc, /suite failed/, 'no suite failed');
  t.notMatch(doc, /events lost|errors\/lost\/duplicated: /, 'no event lost');
});
