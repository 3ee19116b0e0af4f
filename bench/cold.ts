/**
 * 1. Cold start, each figure the median over pairs run alternately (agentd, floor, agentd,
 * floor...; at least 14 pairs in a full run), a fresh data directory for each agentd start:
 * - `agentd serve --stdio` until the `initialize` reply arrives, versus `node -e` that answers
 *   one line (the floor of a Node process); target: at most 60 ms added.
 * - `agentd serve --port 0` until the first 200 on `/v1/health`, versus `node -e` running a bare
 *   node:http server that answers 200; both print their URL and get the same GET; target: at
 *   most 60 ms added.
 * - `agentd run hi` (the in-process server, the echo provider) until the first byte of its
 *   reply, versus `node -e` that prints one line at once.
 */
import { spawn } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { AGENTD, fmtMs, INIT_PARAMS, median, ratioRow, removeDir, ROOT, tempDir, within, type Options, type Row } from './lib.js';

/** Added milliseconds allowed by issue 22 for `serve --stdio` and `serve` (HTTP). */
const COLD_TARGET_MS = 60;

/** Pairs per cold-start row: at least 14 in a full run. */
const pairs = (o: Options) => (o.quick ? 6 : Math.max(14, o.repeats * 2));

const initFrame = (() => {
  const text = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS });
  return `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
})();

const FLOOR = "process.stdin.once('data', () => process.stdout.write('{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\\n'))";

/** Milliseconds from spawn to the first byte of the reply (the whole reply, for agentd). */
function timeToReply(args: string[], dataDir: string): Promise<number> {
  return within(new Promise((resolve, reject) => {
    const t0 = performance.now();
    const proc = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'ignore'], cwd: ROOT, env: { ...process.env, AGENTD_LOG_LEVEL: 'warn', AGENTD_HOME: dataDir } });
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      if (/"id":1/.test(out) && out.trimEnd().endsWith('}')) {
        const ms = performance.now() - t0;
        proc.kill('SIGKILL');
        resolve(ms);
      }
    });
    proc.on('exit', (code, signal) => { if (signal !== 'SIGKILL') reject(new Error(`exited (${code}) before replying`)); });
    proc.stdin.write(initFrame);
  }), 20_000, 'initialize reply');
}

/** Milliseconds from spawn to the first byte on stdout (the process reads no stdin). */
function timeToFirstByte(args: string[], dataDir: string): Promise<number> {
  return within(new Promise((resolve, reject) => {
    const t0 = performance.now();
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'], cwd: dataDir, env: { ...process.env, AGENTD_HOME: dataDir, AGENTD_URL: '' } });
    proc.stdout.once('data', () => {
      const ms = performance.now() - t0;
      proc.kill('SIGKILL');
      resolve(ms);
    });
    proc.on('exit', (code, signal) => { if (signal !== 'SIGKILL') reject(new Error(`exited (${code}) before writing`)); });
  }), 20_000, 'first byte');
}

const PRINT_FLOOR = "process.stdout.write('Echo: hi\\n')";

const HTTP_FLOOR = "require('node:http').createServer((q, s) => { s.writeHead(200, { 'content-type': 'application/json' }); s.end('{\"status\":\"ok\"}'); })"
  + ".listen(0, '127.0.0.1', function () { process.stdout.write('listening on http://127.0.0.1:' + this.address().port + '\\n'); })";

/** Milliseconds from spawn to the end of a 200 answer to GET /v1/health at the URL the process prints. */
function timeToHealth(args: string[], dataDir: string): Promise<number> {
  return within(new Promise((resolve, reject) => {
    const t0 = performance.now();
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'], cwd: ROOT, env: { ...process.env, AGENTD_LOG_LEVEL: 'warn', AGENTD_HOME: dataDir } });
    let out = '';
    let asked = false;
    const fail = (err: Error) => { proc.kill('SIGKILL'); reject(err); };
    proc.stdout.on('data', (d) => {
      if (asked) return;
      out += d;
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (!m) return;
      asked = true;
      const req = httpGet(`${m[1]}/v1/health`, { agent: false }, (res) => {
        res.resume();
        res.on('end', () => {
          const ms = performance.now() - t0;
          if (res.statusCode !== 200) return fail(new Error(`/v1/health answered ${res.statusCode}`));
          proc.kill('SIGKILL');
          resolve(ms);
        });
      });
      req.on('error', fail);
    });
    proc.on('exit', (code, signal) => { if (signal !== 'SIGKILL') reject(new Error(`exited (${code}) before answering`)); });
  }), 20_000, 'first 200 on /v1/health');
}

export async function cold(o: Options): Promise<Row[]> {
  return [...(await coldServe(o)), ...(await coldHttp(o)), ...(await coldRun(o))];
}

/** The row of a cold start with an added-time target: median of the paired differences. */
function addedRow(o: Options, label: string, name: string, baselineName: string, agentd: number[], floor: number[], targetMs: number): Row {
  const added = agentd.map((a, i) => a - floor[i]);
  const addedMedian = median(added);
  o.log(`cold start (${label}): agentd ${fmtMs(median(agentd))}, floor ${fmtMs(median(floor))}, added ${fmtMs(addedMedian)}`);
  return {
    ...ratioRow({ group: '1. cold start', name, baselineName }, agentd, floor, fmtMs),
    target: `≤ +${targetMs} ms`,
    met: addedMedian <= targetMs,
    judged: `+${fmtMs(addedMedian)}`,
    note: `added ${fmtMs(addedMedian)} (median of ${agentd.length} alternating pairs; min ${fmtMs(Math.min(...added))}, max ${fmtMs(Math.max(...added))})`,
  };
}

async function coldHttp(o: Options): Promise<Row[]> {
  const agentd: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < pairs(o); i++) {
    const dir = tempDir();
    agentd.push(await timeToHealth([AGENTD, 'serve', '--port', '0', '--data-dir', dir], dir));
    floor.push(await timeToHealth(['-e', HTTP_FLOOR], dir));
    removeDir(dir);
  }
  return [addedRow(o, 'http', '`serve` (HTTP) to the first 200 on /v1/health', '`node -e` bare node:http server answering 200', agentd, floor, COLD_TARGET_MS)];
}

async function coldRun(o: Options): Promise<Row[]> {
  const agentd: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < pairs(o); i++) {
    const dir = tempDir();
    agentd.push(await timeToFirstByte([AGENTD, 'run', 'hi'], dir));
    floor.push(await timeToFirstByte(['-e', PRINT_FLOOR], dir));
    removeDir(dir);
  }
  const row = addedRow(o, 'run', '`agentd run hi` to the first byte of the echo reply', '`node -e` printing one line', agentd, floor, 100);
  return [{ ...row, note: `${row.note}, a fresh data dir each` }];
}

async function coldServe(o: Options): Promise<Row[]> {
  const agentd: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < pairs(o); i++) {
    const dir = tempDir();
    // A fresh data directory each time: creating the database is part of a first start.
    agentd.push(await timeToReply([AGENTD, 'serve', '--stdio'], dir));
    floor.push(await timeToReply(['-e', FLOOR], dir));
    removeDir(dir);
  }
  return [addedRow(o, 'stdio', '`serve --stdio` to initialize reply', '`node -e` answering one line', agentd, floor, COLD_TARGET_MS)];
}
