/**
 * `npm run bench [-- --quick] [-- --out FILE] [-- --only a,b]`: runs the benchmarks and writes the
 * results table (default bench/RESULTS.md) with the machine's description and a summary of the
 * targets. Every figure is a ratio against a baseline measured in the same run; medians and
 * spread over repeats. `npm run bench -- --profile [...]`: a CPU profile instead (bench/profile.ts).
 */
import { cpus, loadavg, totalmem, type as osType, release } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cold } from './cold.js';
import { ROOT, type Options, type Row } from './lib.js';
import { concurrency } from './concurrency.js';
import { memory, slowReader } from './memory.js';
import { persistence } from './persistence.js';
import { profile } from './profile.js';
import { postgres } from './postgres.js';
import { prompt } from './prompt.js';
import { throughput } from './throughput.js';

const suites: Record<string, (o: Options) => Promise<Row[]>> = { cold, throughput, prompt, concurrency, memory, 'slow-reader': slowReader, persistence, postgres };

function parseArgs(argv: string[]) {
  const a = { quick: false, out: join(ROOT, 'bench', 'RESULTS.md'), only: [] as string[] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--quick') a.quick = true;
    else if (argv[i] === '--out') a.out = argv[++i];
    else if (argv[i] === '--only') a.only = argv[++i].split(',');
    else throw new Error(`unknown argument ${argv[i]} (use --quick, --out FILE, --only ${Object.keys(suites).join(',')}; or --profile first)`);
  }
  return a;
}

const ratio = (r: number) => (!Number.isFinite(r) ? '—' : r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2));

export function table(rows: Row[]): string {
  const lines = [
    '| group | measure | agentd (median) | baseline | baseline (median) | ratio (median) | spread (min–max) | target | met | note |',
    '|---|---|---:|---|---:|---:|---:|---|---|---|',
  ];
  for (const r of rows) {
    const spread = Number.isFinite(r.spread[0]) ? `${ratio(r.spread[0])}–${ratio(r.spread[1])}` : '—';
    lines.push(`| ${r.group} | ${r.name} | ${r.value} | ${r.baselineName} | ${r.baseline} | ${ratio(r.ratio)} | ${spread} | ${r.target ?? ''} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} | ${r.note ?? ''} |`);
  }
  return lines.join('\n');
}

/** One line: how many rows with a met/not met verdict are met, and which are not. */
export function summary(rows: Row[]): string {
  const judged = rows.filter((r) => r.met !== undefined);
  const missed = judged.filter((r) => !r.met);
  return `Targets met: ${judged.length - missed.length} of ${judged.length}.${missed.length ? ` Not met: ${missed.map((r) => `${r.group} / ${r.name}${r.target ? ` (${r.target}: ${r.judged ?? `ratio ${ratio(r.ratio)}`})` : ''}`).join('; ')}.` : ''}`;
}

function machine(): string {
  const c = cpus();
  return [
    `- CPU: ${c[0]?.model ?? 'unknown'} × ${c.length}`,
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GB`,
    `- OS: ${osType()} ${release()}`,
    `- Node ${process.version}`,
    `- load average at start: ${loadavg().map((l) => l.toFixed(2)).join(', ')} (the machine is shared: ratios, not absolute figures, are comparable)`,
  ].join('\n');
}

async function main() {
  if (process.argv[2] === '--profile') return profile(process.argv.slice(3));
  const args = parseArgs(process.argv.slice(2));
  const o: Options = { quick: args.quick, repeats: args.quick ? 3 : 7, log: (m) => process.stderr.write(`bench: ${m}\n`) };
  const started = new Date();
  const desc = machine();
  const rows: Row[] = [];
  for (const [name, suite] of Object.entries(suites)) {
    if (args.only.length && !args.only.includes(name)) continue;
    const t = performance.now();
    try {
      rows.push(...await suite(o));
    } catch (err) {
      rows.push({ group: name, name: 'suite failed', value: '', baseline: '', baselineName: '', ratio: NaN, spread: [NaN, NaN], met: false, note: String((err as Error)?.stack ?? err).split('\n')[0] });
    }
    o.log(`${name} took ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const doc = [
    '# agentd benchmark results',
    '',
    `Run ${started.toISOString()} with \`npm run bench${args.quick ? ' -- --quick' : ''}\` (${o.repeats} repeats; ratio = agentd / baseline per repeat, median and min–max).`,
    '',
    desc,
    '',
    table(rows),
    '',
    summary(rows),
    '',
  ].join('\n');
  writeFileSync(args.out, doc);
  process.stdout.write(`${doc}\nwritten to ${args.out}\n`);
  if (rows.some((r) => r.name === 'suite failed')) process.exitCode = 1;
}

await main();
