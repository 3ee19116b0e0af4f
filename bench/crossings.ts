/**
 * How many source files one request crosses: a WebSocket client sends `session/create` and then
 * `session/message` (echo provider) to an in-process server, and V8's precise coverage lists the
 * project files (protocol/, server/, bridge/; not node_modules) whose code ran for each request,
 * after one warm-up of both. `node --import tsx bench/crossings.ts` prints the counts and files;
 * the architecture issue (14) tracks these figures.
 */
import { Session } from 'node:inspector/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Coverage = { result: Array<{ url: string; functions: Array<{ ranges: Array<{ count: number }> }> }> };

const root = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..')).href + '/';
// Coverage starts before the server's modules load, so every function is counted.
const inspector = new Session();
inspector.connect();
await inspector.post('Profiler.enable');
await inspector.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
const { default: WebSocket } = await import('ws');
const { Core } = await import('../server/core.js');
const { startHttp } = await import('../server/serve.js');
const { createLogger } = await import('../server/log.js');

/** Files whose code ran since the last call (taking coverage resets the counts). */
async function ran(): Promise<string[]> {
  const { result } = (await inspector.post('Profiler.takePreciseCoverage')) as Coverage;
  return result
    .filter((s) => s.url.startsWith(root) && !s.url.includes('/node_modules/') && !s.url.includes('/bench/'))
    // After a reset V8 folds nested ranges into their parent: any range with a count means code ran.
    .filter((s) => s.functions.some((f) => f.ranges.some((r) => r.count > 0)))
    .map((s) => s.url.slice(root.length))
    .sort();
}

/**
 * The call path from the transport to the store: the project files on the stack (sync and async
 * frames) when the request's first write reaches the store. This is what "a request crosses N
 * files" means in the architecture issue; the list above also counts helpers that ran beside it.
 * The WebSocket socket adapter hands bytes to vscode-jsonrpc, which dispatches on a later tick, so
 * the stack starts at the JSON-RPC peer; an `await` before the write hides the synchronous callers
 * above it (session/create's handler), so the figure is a lower bound on that path.
 */
const { SqliteStore } = await import('../server/store/sqlite.js');
Error.stackTraceLimit = 200;
const paths: Record<string, string[]> = {};
let recording: string | null = null;
for (const method of ['insertSession', 'putMessage'] as const) {
  const original = SqliteStore.prototype[method] as (...args: unknown[]) => unknown;
  (SqliteStore.prototype as unknown as Record<string, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
    if (recording && !paths[recording]) {
      const files = [...(new Error().stack ?? '').matchAll(/\((?:file:\/\/)?([^():]+):\d+:\d+\)|at (?:async )?(?:file:\/\/)?(\/[^():]+):\d+:\d+/g)]
        .map((m) => m[1] ?? m[2])
        .filter((f) => f.startsWith(fileURLToPath(root)) && !f.includes('/node_modules/') && !f.includes('/bench/'))
        .map((f) => f.slice(fileURLToPath(root).length));
      paths[recording] = [...new Set([...files.reverse(), 'server/store/sqlite.ts'])];
      if (process.env.CROSSINGS_STACK) console.error(new Error().stack);
    }
    return original.apply(this, args);
  };
}

const core = await new Core({ dataDir: mkdtempSync(join(tmpdir(), 'agentd-crossings-')), log: createLogger('silent') }).start();
const http = await startHttp(core, { port: 0 });
const ws = new WebSocket(`${http.url.replace(/^http/, 'ws')}/rpc`);
await new Promise((resolve) => ws.once('open', resolve));
let nextId = 0;
const waiting = new Map<number, (result: { id: string }) => void>();
ws.on('message', (data) => {
  const m = JSON.parse(String(data)) as { id?: number; result?: { id: string } };
  if (m.id !== undefined) waiting.get(m.id)?.(m.result!);
});
const call = (method: string, params: object) => new Promise<{ id: string }>((resolve) => {
  const id = ++nextId;
  waiting.set(id, resolve);
  ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
});

await call('initialize', { protocolVersion: '1.0' });
const warm = await call('session/create', {});
await call('session/message', { sessionId: warm.id, content: 'warm up' });
await ran();
recording = 'session/create';
const session = await call('session/create', {});
const create = await ran();
recording = 'session/message';
await call('session/message', { sessionId: session.id, content: 'Hello!' });
await new Promise((resolve) => setTimeout(resolve, 50));
const message = await ran();
for (const [name, files] of [['session/create', create], ['session/message', message]] as const) {
  console.log(`${name}: code ran in ${files.length} files\n  ${files.join('\n  ')}`);
  const path = paths[name] ?? [];
  console.log(`${name}: transport to store crosses ${path.length} files\n  ${path.join(' -> ')}`);
}
ws.close();
await http.close();
await core.close();
