// The benchmark suite still runs: `--quick` writes the results table with a row for every target
// of issue 22 and the PostgreSQL rows of issue 21 (figures and verdicts are not checked here,
// only that each is reported; speed belongs in bench/, not in tests). What is checked is what
// a run must never show: a failed suite or a lost event.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, tempDir } from '../helpers/rpc-client.js';

// About 70 s alone; several times that while the rest of the suite runs beside it.
t.setTimeout(480_000);

interface Cells { group: string; measure: string; value: string; baselineName: string; baseline: string; ratio: string; spread: string; target: string; met: string; note: string }

function rows(doc: string): Cells[] {
  return doc.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| group |')).map((l) => {
    const c = l.slice(2, -2).split(' | ');
    return { group: c[0], measure: c[1], value: c[2], baselineName: c[3], baseline: c[4], ratio: c[5], spread: c[6], target: c[7], met: c[8], note: c[9] };
  });
}

const RATIO = /^[0-9.]+$/;
const VERDICT = /^(yes|\*\*no\*\*)$/;

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
  t.match(doc, /^Targets met: \d+ of \d+\./m, 'a summary of the targets');
  const all = rows(doc);
  t.notOk(all.some((r) => r.measure === 'suite failed'), 'no suite failed');
  for (const group of ['1. cold start', '2. throughput', '4. concurrency', '5. memory', '6. persistence']) {
    t.ok(all.some((r) => r.group === group && RATIO.test(r.ratio) && /^[0-9.]+–[0-9.]+$/.test(r.spread)), `a row with a ratio for ${group}`);
  }

  /** The one row whose measure matches, with a target and a verdict. */
  const target = (what: string, measure: RegExp, tgt: RegExp, baseline?: RegExp) => {
    const found = all.filter((r) => measure.test(r.measure) && (!baseline || baseline.test(r.baselineName)));
    t.equal(found.length, 1, `one row: ${what}`);
    const r = found[0];
    if (!r) return undefined;
    t.match(r.target, tgt, `${what}: target`);
    t.match(r.met, VERDICT, `${what}: met or not met`);
    return r;
  };
  for (const transport of ['stdio', 'WebSocket', 'SSE']) {
    const r = target(`${transport} against the best raw writer`, new RegExp(`^${transport}: [0-9,]+ deltas .*persistence on$`), /^≥ 0\.6$/, /\(best raw\)$/);
    if (r) {
      t.match(r.ratio, RATIO, `${transport}: a ratio`);
      t.match(r.note, /^no event lost/, `${transport}: no event lost`);
    }
    t.ok(all.some((x) => x.measure === `${transport}, reference` && /\(naive, reference\)$/.test(x.baselineName) && RATIO.test(x.ratio)), `${transport}: the naive baseline kept for reference`);
  }
  const replay = target('replay to a late subscriber', /^replay of [0-9,]+ events .*late subscriber/, /^≥ 0\.6$/, /\(best raw\)$/);
  if (replay) t.match(replay.note, /^all events, in order$/, 'replay: all events in order');
  t.ok(all.some((x) => x.measure === 'replay to a late subscriber, reference' && RATIO.test(x.ratio)), 'replay: the naive baseline kept');
  target('cold start, stdio', /^`serve --stdio` to initialize reply$/, /^≤ \+60 ms$/);
  target('cold start, HTTP', /^`serve` \(HTTP\) to the first 200 on \/v1\/health$/, /^≤ \+60 ms$/);
  target('idle RSS, stdio', /^idle RSS .*`serve --stdio`/, /^≤ 60 MB$/);
  target('idle RSS, HTTP', /^idle RSS .*`serve`, HTTP/, /^≤ 60 MB$/);
  const burst = target('sender RSS under a burst to slow readers', /^server peak RSS, a 200,000-event burst/, /^≤ 150 MB$/);
  if (burst) t.match(burst.note, /^fast clients got every event/, 'burst: the fast clients lost nothing');
  const errors = target('concurrency errors', /: errors$/, /^0$/);
  if (errors) t.equal(errors.value, '0', 'concurrency: no error');
  const lost = target('concurrency events lost', /: events lost$/, /^0$/);
  if (lost) t.equal(lost.value, '0', 'concurrency: no event lost');
  target('concurrency p99 / p50', /: event latency p99 \/ p50$/, /^≤ 5$/);
  const pg = all.filter((r) => r.group === '7. PostgreSQL');
  t.equal(pg.length, 2, 'two PostgreSQL rows (throughput, turn latency)');
  for (const r of pg) {
    t.equal(r.target, 'informational', `${r.measure}: informational`);
    t.ok(RATIO.test(r.ratio) || /^skipped: /.test(r.note), `${r.measure}: a ratio, or skipped saying why`);
    if (RATIO.test(r.ratio)) t.match(r.note, /no event lost/, `${r.measure}: no event lost`);
  }
});
