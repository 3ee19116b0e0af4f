// The import graph (madge, over the TypeScript sources): no import cycle within protocol/, bridge/
// or extension/; protocol/ imports nothing from server/ or bridge/; the clients (protocol/client,
// server/chat, bridge/web) import no server internals; no cycle within server/, and nothing under
// server/ but the entry points imports the composition root (server/core.ts). The figures
// (strongly connected sets, cycles, importers of core.ts) are printed on every run.
// `npm run check:imports` runs this file alone.
import t from 'tap';
import { ROOT } from '../helpers/rpc-client.js';

type MadgeResult = { obj(): Record<string, string[]>; circular(): string[][]; warnings(): { skipped: string[] } };
type Madge = (paths: string[], config: Record<string, unknown>) => Promise<MadgeResult>;
const { default: madge } = (await import('madge')) as unknown as { default: Madge };

const result = await madge(['protocol', 'server', 'bridge', 'extension/src'], {
  baseDir: ROOT,
  fileExtensions: ['ts'],
  tsConfig: `${ROOT}/tsconfig.json`,
  excludeRegExp: [/\.d\.ts$/],
});
const graph = result.obj();
const cycles = result.circular();
const under = (dir: string) => (file: string) => file.startsWith(`${dir}/`);
const cyclesWithin = (dir: string) => cycles.filter((c) => c.every(under(dir)));
const show = (c: string[]) => c.join(' > ');

/** Imports from files under `from` into files matching `bad`, as "a → b" lines. */
function offending(from: (f: string) => boolean, bad: (dep: string, file: string) => boolean): string[] {
  return Object.entries(graph).filter(([f]) => from(f)).flatMap(([f, deps]) => deps.filter((d) => bad(d, f)).map((d) => `${f} → ${d}`));
}

t.test('madge read the sources', async (t) => {
  t.ok(Object.keys(graph).length > 80, `${Object.keys(graph).length} files`);
  // A file madge could not resolve would hide its imports from every rule below.
  const skipped = result.warnings().skipped.filter((s) => s.startsWith('.') && !/\.json$/.test(s));
  t.same(skipped, [], 'every relative import resolved (JSON imports aside; packages are not followed)');
});

for (const dir of ['protocol', 'bridge', 'extension']) {
  t.test(`no import cycle within ${dir}/`, async (t) => {
    t.same(cyclesWithin(dir).map(show), []);
  });
}

t.test('protocol/ imports nothing from server/ or bridge/', async (t) => {
  t.same(offending(under('protocol'), (d) => under('server')(d) || under('bridge')(d)), []);
});

t.test('clients import no server internals', async (t) => {
  const clients = (f: string) => under('protocol/client')(f) || under('server/chat')(f) || under('server/acp')(f) || under('bridge/web')(f);
  const internal = (d: string) => (under('server')(d) && !under('server/chat')(d) && !under('server/acp')(d)) || (under('bridge')(d) && !under('bridge/web')(d));
  t.same(offending(clients, internal), []);
  t.ok(Object.keys(graph).filter(clients).length >= 10, 'the client files are in the graph');
});

const serverCycles = cyclesWithin('server');
const ENTRY_POINTS = ['server/core.ts', 'server/serve.ts', 'server/embedded.ts', 'server/cli.ts'];
const coreImporters = offending((f) => under('server')(f) && !ENTRY_POINTS.includes(f), (d) => d === 'server/core.ts');

/** Strongly connected sets of two or more files (Tarjan): every file in one can reach every other. */
function tangles(files: string[]): string[][] {
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set<string>(), out: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next); low.set(v, next++); stack.push(v); on.add(v);
    for (const w of (graph[v] ?? []).filter((d) => files.includes(d))) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const set: string[] = [];
      let w: string;
      do { w = stack.pop()!; on.delete(w); set.push(w); } while (w !== v);
      if (set.length > 1) out.push(set.sort());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return out;
}

// The figures, printed on every run.
const serverTangles = tangles(Object.keys(graph).filter(under('server')));
t.comment(`server/ strongly connected sets now: ${serverTangles.map((s) => `${s.length} files (${s.join(', ')})`).join('; ')}`);
t.comment(`server/ import cycles now (madge): ${serverCycles.length}`);
for (const c of serverCycles) t.comment(`  ${show(c)}`);
t.comment(`modules under server/ (entry points aside) importing server/core.ts now: ${coreImporters.length}`);
for (const line of coreImporters) t.comment(`  ${line}`);

t.test('no import cycle within server/', async (t) => {
  t.same(serverCycles.map(show), []);
  t.same(serverTangles, [], 'no strongly connected set of files in server/');
});

t.test('only the entry points import the composition root', async (t) => {
  t.same(coreImporters, []);
});

t.test('the bridge takes its narrow BridgeDeps, never the composition root', async (t) => {
  t.same(offending(under('bridge'), (d) => d === 'server/core.ts'), []);
});
