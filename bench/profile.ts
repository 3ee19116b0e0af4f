/**
 * CPU profile of agentd under the throughput bench's load: `agentd serve` runs with
 * `node --cpu-prof`, a client (the bench's own, as in bench/throughput.ts) drives `turns`
 * `echo-bench` turns of `deltas` deltas (16 characters) over one transport with persistence on
 * (SQLite), the server exits cleanly (stdin closed, or SIGTERM) and writes its .cpuprofile, and
 * the self time of each function (from the samples' time deltas) is summed and the top entries
 * printed with their file and share, then the top files.
 *
 *   npm run bench -- --profile [--transport stdio|ws|sse] [--deltas 100000] [--turns 3] [--top 15]
 *     [--bundle] [--out FILE] [--keep DIR]
 *   (after a build: node dist/bench/run.js --profile ...)
 *
 * By default the tsc output (dist/server/) runs, so entries name source files; `--bundle` runs
 * bin/agentd.js (the esbuild bundle, what the bench measures; file names are chunk names).
 * `--keep DIR` leaves the .cpuprofile there (Chrome DevTools or speedscope open it).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dataDir, removeDir, ROOT, sseStream, StdioServer, startHttpServer, tempDir, within, WsRpc } from './lib.js';
import { TurnWatch, turnProblems } from './throughput.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

function args(argv: string[]) {
  const a = { transport: 'stdio', deltas: 100_000, turns: 3, top: 15, bundle: false, out: '', keep: '' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--bundle') a.bundle = true;
    else if (k === '--transport') a.transport = argv[++i];
    else if (k === '--deltas') a.deltas = Number(argv[++i]);
    else if (k === '--turns') a.turns = Number(argv[++i]);
    else if (k === '--top') a.top = Number(argv[++i]);
    else if (k === '--out') a.out = argv[++i];
    else if (k === '--keep') a.keep = argv[++i];
    else throw new Error(`unknown argument ${k} (--profile takes --transport stdio|ws|sse, --deltas N, --turns N, --top N, --bundle, --out FILE, --keep DIR)`);
  }
  if (!['stdio', 'ws', 'sse'].includes(a.transport)) throw new Error('--transport is stdio, ws or sse');
  return a;
}

const maps = new Map<string, SourceMap | null>();

/** `file:line` of a profile frame, mapped through the file's source map (tsc and esbuild write them) when there is one. */
function where(path: string, line: number, column: number): string {
  if (!maps.has(path)) {
    let map: SourceMap | null = null;
    try {
      if (existsSync(`${path}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')));
    } catch { /* no usable map */ }
    maps.set(path, map);
  }
  const entry = maps.get(path)?.findEntry(line, column) as { originalSource?: string; originalLine?: number } | undefined;
  if (entry?.originalSource) return `${relative(ROOT, join(dirname(path), entry.originalSource))}:${(entry.originalLine ?? 0) + 1}`;
  return `${relative(ROOT, path)}:${line + 1}`;
}

/** Self time per function and per file (source files where maps say), in µs, from the samples. */
function selfTimes(p: CpuProfile) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const perNode = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) perNode.set(p.samples[i], (perNode.get(p.samples[i]) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
  const fns = new Map<string, { fn: string; file: string; us: number }>();
  const files = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of perNode) {
    const { functionName, url, lineNumber, columnNumber } = byId.get(id)!.callFrame;
    total += us;
    if (functionName === '(idle)') idle += us;
    const at = url.startsWith('file://') ? where(new URL(url).pathname, lineNumber, columnNumber) : url ? `${url}:${lineNumber + 1}` : '(native)';
    const file = at === '(native)' ? at : at.replace(/:\d+$/, '');
    const key = `${functionName}\u0000${at}`;
    const e = fns.get(key) ?? { fn: functionName || '(anonymous)', file: at, us: 0 };
    e.us += us;
    fns.set(key, e);
    if (functionName !== '(idle)') files.set(file, (files.get(file) ?? 0) + us);
  }
  return { total, idle, fns: [...fns.values()].sort((a, b) => b.us - a.us), files: [...files].sort((a, b) => b[1] - a[1]) };
}

async function drive(a: ReturnType<typeof args>, profDir: string, dir: string): Promise<{ rates: number[]; problems: string[] }> {
  const nodeArgs = ['--cpu-prof', '--cpu-prof-dir', profDir];
  const entry = a.bundle ? undefined : ['--input-type=module', '-e', `import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'server', 'cli.js')).href)}).then((m) => m.main(['node', 'agentd', ...process.argv.slice(1)]))`];
  const rates: number[] = [];
  const problems: string[] = [];
  const content = `${a.deltas} 16`;
  if (a.transport === 'stdio') {
    const server = await StdioServer.start(dir, nodeArgs, { client: 'minimal', entry });
    let watch: TurnWatch | undefined;
    server.conn.onNotification('session/event', (e: Json) => watch?.onEvent(e));
    for (let i = 0; i < a.turns; i++) {
      const s = await server.request('session/create', { provider: 'echo', model: 'echo-bench' });
      await server.request('session/subscribe', { sessionId: s.id });
      const w = watch = new TurnWatch(s.id);
      const t0 = performance.now();
      await within(Promise.all([server.request('session/message', { sessionId: s.id, content }), w.done]), 300_000, 'turn');
      rates.push(a.deltas / ((w.t1 - t0) / 1000));
      problems.push(...turnProblems(w, a.deltas));
    }
    await server.stop();
    return { rates, problems };
  }
  const server = await startHttpServer(dir, [], { nodeArgs, entry });
  const client = await WsRpc.connect(server.wsUrl);
  let watch: TurnWatch | undefined;
  client.onNotification = (m, p) => { if (m === 'session/event') watch?.onEvent(p); };
  for (let i = 0; i < a.turns; i++) {
    const s = await client.request('session/create', { provider: 'echo', model: 'echo-bench' });
    const w = watch = new TurnWatch(s.id);
    const stream = a.transport === 'sse' ? await sseStream(`${server.url}/v1/session/${s.id}/events`, (e) => w.onEvent(e), 'connected') : undefined;
    if (!stream) await client.request('session/subscribe', { sessionId: s.id });
    const t0 = performance.now();
    await within(Promise.all([client.request('session/message', { sessionId: s.id, content, async: !!stream }), w.done]), 300_000, 'turn');
    rates.push(a.deltas / ((w.t1 - t0) / 1000));
    problems.push(...turnProblems(w, a.deltas));
    stream?.close();
  }
  await client.close();
  await server.stop();
  return { rates, problems };
}

/** `run.js --profile ARGS`: profiles, prints the summary and writes it to `--out`. */
export async function profile(argv: string[]) {
  const a = args(argv);
  const profDir = a.keep || tempDir('agentd-prof-');
  mkdirSync(profDir, { recursive: true });
  const dir = dataDir();
  const { rates, problems } = await drive(a, profDir, dir);
  removeDir(dir);
  // The profile is written as the server exits; stop() waited for the exit.
  const file = await within((async () => {
    for (;;) {
      const f = readdirSync(profDir).filter((n) => n.endsWith('.cpuprofile')).sort().pop();
      if (f) return join(profDir, f);
      await new Promise((r) => setTimeout(r, 100));
    }
  })(), 10_000, 'the .cpuprofile');
  const { total, idle, fns, files } = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  const busy = total - idle;
  const pct = (us: number, of: number) => `${((100 * us) / of).toFixed(1)}%`.padStart(6);
  const command = `npm run bench -- --profile ${argv.join(' ')}`.trim();
  const lines = [
    `# agentd CPU profile: ${a.turns} echo-bench turns of ${a.deltas.toLocaleString('en-US')} deltas over ${a.transport}, persistence on (SQLite)`,
    `command: ${command}`,
    `server: node --cpu-prof ${a.bundle ? 'bin/agentd.js (esbuild bundle)' : 'dist/server/cli.js (tsc output)'} serve ${a.transport === 'stdio' ? '--stdio' : '--port 0'}`,
    `when: ${new Date().toISOString()}; ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}; load average ${loadavg().map((l) => l.toFixed(2)).join(', ')}; Node ${process.version}`,
    `client-side rate: ${rates.map((r) => `${Math.round(r).toLocaleString('en-US')}/s`).join(', ')}; ${problems.length ? `PROBLEMS: ${problems.slice(0, 3).join('; ')}` : 'no event lost'}`,
    `samples: ${(total / 1000).toFixed(0)} ms in all, ${(busy / 1000).toFixed(0)} ms not idle; % of busy = share of the non-idle time (self time)`,
    'self time includes what V8 inlined into a function and the native calls it makes (better-sqlite3 statements, JSON.stringify, socket writes); the process start is in it too',
    '',
    `top ${a.top} functions by self time:`,
    `  %busy  %all  self ms  function  (file:line)`,
    ...fns.filter((f) => f.fn !== '(idle)').slice(0, a.top).map((f) => `${pct(f.us, busy)} ${pct(f.us, total)} ${(f.us / 1000).toFixed(0).padStart(7)}  ${f.fn}  (${f.file})`),
    '',
    'top 10 files by self time:',
    ...files.slice(0, 10).map(([f, us]) => `${pct(us, busy)} ${(us / 1000).toFixed(0).padStart(7)} ms  ${f}`),
    '',
    `profile: ${a.keep ? file : '(removed; --keep DIR to keep it)'}`,
    '',
  ];
  if (!a.keep) removeDir(profDir);
  const text = lines.join('\n');
  if (a.out) writeFileSync(a.out, text);
  process.stdout.write(text);
}

