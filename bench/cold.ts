/**
 * 1. Cold start: spawn `agentd serve --stdio` until the `initialize` reply arrives, versus spawning
 * `node -e` that answers one line (the floor of a Node process); and spawn `agentd run hi` (the
 * in-process server, the echo provider) until the first byte of its reply, versus `node -e` that
 * prints one line at once. Runs are interleaved; each agentd run gets a fresh data directory.
 */
import { spawn } from 'node:child_process';
import { AGENTD, fmtMs, INIT_PARAMS, median, ratioRow, removeDir, ROOT, tempDir, within, type Options, type Row } from './lib.js';

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

export async function cold(o: Options): Promise<Row[]> {
  return [...(await coldServe(o)), ...(await coldRun(o))];
}

async function coldRun(o: Options): Promise<Row[]> {
  const agentd: number[] = [];
  const floor: number[] = [];
  const n = Math.max(o.repeats * 2, 5);
  for (let i = 0; i < n; i++) {
    const dir = tempDir();
    agentd.push(await timeToFirstByte([AGENTD, 'run', 'hi'], dir));
    floor.push(await timeToFirstByte(['-e', PRINT_FLOOR], dir));
    removeDir(dir);
  }
  const added = agentd.map((a, i) => a - floor[i]);
  const addedMedian = median(added);
  o.log(`cold start (run): agentd ${fmtMs(median(agentd))}, floor ${fmtMs(median(floor))}, added ${fmtMs(addedMedian)}`);
  return [{
    ...ratioRow({ group: '1. cold start', name: '`agentd run hi` to the first byte of the echo reply', baselineName: '`node -e` printing one line' }, agentd, floor, fmtMs),
    target: '≤ +100 ms',
    met: addedMedian <= 100,
    note: `added ${fmtMs(addedMedian)} (min ${fmtMs(Math.min(...added))}, max ${fmtMs(Math.max(...added))}) over ${n} runs, a fresh data dir each`,
  }];
}

async function coldServe(o: Options): Promise<Row[]> {
  const agentd: number[] = [];
  const floor: number[] = [];
  const n = Math.max(o.repeats * 2, 5);
  for (let i = 0; i < n; i++) {
    const dir = tempDir();
    // A fresh data directory each time: creating the database is part of a first start.
    agentd.push(await timeToReply([AGENTD, 'serve', '--stdio'], dir));
    floor.push(await timeToReply(['-e', FLOOR], dir));
    removeDir(dir);
  }
  const added = agentd.map((a, i) => a - floor[i]);
  const addedMedian = median(added);
  o.log(`cold start: agentd ${fmtMs(median(agentd))}, floor ${fmtMs(median(floor))}, added ${fmtMs(addedMedian)}`);
  return [{
    ...ratioRow({ group: '1. cold start', name: '`serve --stdio` to initialize reply', baselineName: '`node -e` answering one line' }, agentd, floor, fmtMs),
    target: '≤ +150 ms',
    met: addedMedian <= 150,
    note: `added ${fmtMs(addedMedian)} (min ${fmtMs(Math.min(...added))}, max ${fmtMs(Math.max(...added))}) over ${n} runs`,
  }];
}
