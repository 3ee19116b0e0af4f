/**
 * 5. Memory: RSS of an idle `agentd serve --stdio` after initialize and of an idle `agentd serve`
 * (HTTP) after a /v1/health answer and a WebSocket initialize, each against a bare Node process
 * (target ≤ 60 MB); RSS per idle session (create many, divide the growth), against a bare Node
 * process holding the same number of parsed session objects in a Map. `slowReader`: the
 * server's peak RSS while one turn streams a 200k-event burst past slow readers (target ≤ 150 MB).
 */
import { spawn } from 'node:child_process';
import { CHILD, fmtKB, fmtMB, ratioRow, settledRss, sleep, startHttpServer, StdioServer, tempDir, WsRpc, type Options, type Row } from './lib.js';
import { slowReaders } from './slow-readers.js';

const MB = 1048576;
const IDLE_TARGET = 60 * MB;
const BURST_TARGET = 150 * MB;

async function bareNodeRss(): Promise<number> {
  const proc = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await sleep(300);
  const rss = await settledRss(proc.pid!, 2000);
  proc.kill('SIGKILL');
  return rss;
}

function objectsChild(n: number, json: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--expose-gc', CHILD, 'objects', String(n), json], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.on('exit', (code) => (code === 0 ? resolve(Number(out.split(' ')[0])) : reject(new Error(`objects child exited ${code}`))));
  });
}

export async function memory(o: Options): Promise<Row[]> {
  const n = o.quick ? 5000 : 10_000;
  const idle: number[] = [];
  const idleHttp: number[] = [];
  const floor: number[] = [];
  const perSession: number[] = [];
  const perObject: number[] = [];
  const repeats = Math.min(o.repeats, 3);
  for (let r = 0; r < repeats; r++) {
    const http = await startHttpServer(tempDir());
    try {
      const health = await fetch(`${http.url}/v1/health`);
      if (health.status !== 200) throw new Error(`/v1/health answered ${health.status}`);
      await health.arrayBuffer();
      const ws = await WsRpc.connect(http.wsUrl);
      await ws.close();
      await sleep(1000);
      idleHttp.push(await settledRss(http.proc.pid!));
    } finally {
      await http.stop();
    }
    const server = await StdioServer.start();
    try {
      await sleep(1000);
      idle.push(await settledRss(server.proc.pid!));
      floor.push(await bareNodeRss());
      // Warm up the create path (validators compiled, statements prepared) before the baseline reading.
      const warm = await Promise.all(Array.from({ length: 50 }, () => server.request('session/create', { name: 'bench' })));
      const before = await settledRss(server.proc.pid!);
      for (let i = 0; i < n; i += 200) await Promise.all(Array.from({ length: Math.min(200, n - i) }, () => server.request('session/create', { name: 'bench' })));
      const after = await settledRss(server.proc.pid!, 5000);
      perSession.push((after - before) / n);
      perObject.push(await objectsChild(n, JSON.stringify(warm[0])));
    } finally {
      await server.stop();
    }
  }
  o.log(`memory: idle ${idle.map(fmtMB)} idle HTTP ${idleHttp.map(fmtMB)} floor ${floor.map(fmtMB)} per session ${perSession.map(fmtKB)} per object ${perObject.map(fmtKB)}`);
  const idleRow = ratioRow({ group: '5. memory', name: 'idle RSS after initialize (`serve --stdio`)', baselineName: 'bare `node -e` process' }, idle, floor, fmtMB);
  const httpRow = ratioRow({ group: '5. memory', name: 'idle RSS after /v1/health and a WebSocket initialize (`serve`, HTTP)', baselineName: 'bare `node -e` process' }, idleHttp, floor, fmtMB);
  const sesRow = ratioRow({ group: '5. memory', name: `RSS per idle session (${n.toLocaleString('en-US')} created)`, baselineName: 'the same session objects in a Map (heap growth), bare Node' }, perSession, perObject, fmtKB);
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return [
    { ...idleRow, target: '≤ 60 MB', met: med(idle) <= IDLE_TARGET, judged: idleRow.value },
    { ...httpRow, target: '≤ 60 MB', met: med(idleHttp) <= IDLE_TARGET, judged: httpRow.value },
    { ...sesRow, target: '≤ 20 KB', met: med(perSession) <= 20 * 1024, judged: sesRow.value },
  ];
}

/**
 * Sender RSS under a burst: one `echo-bench` turn of 200,000 deltas (16 characters, the
 * throughput bench's frames) on `agentd serve` with its default limits, while one SSE stream and
 * one WebSocket subscriber stop reading (their sockets paused: the kernel buffers fill, then
 * the server holds or drops them) and one fast SSE and one fast WebSocket client must get every
 * event. The row is the server's peak RSS (VmHWM) against its RSS once every reader was connected.
 */
export async function slowReader(o: Options): Promise<Row[]> {
  const deltas = 200_000;
  const r = await slowReaders({ sse: 1, ws: 1, deltas, size: 16, fast: { sse: 1, ws: 1 }, start: (dir) => startHttpServer(dir) });
  o.log(`slow reader: peak ${fmtMB(r.peakRssBytes)} start ${fmtMB(r.startRssBytes)} final ${fmtMB(r.finalRssBytes)}, fast ok ${r.fastOk}, disconnected ${JSON.stringify(r.disconnected)}, ${r.ms} ms`);
  const ratio = r.peakRssBytes / r.startRssBytes;
  const dropped = r.disconnected.connection + r.disconnected.total;
  return [{
    group: '5. memory',
    name: `server peak RSS, a ${deltas.toLocaleString('en-US')}-event burst (one turn) to 2 slow readers (1 SSE, 1 WebSocket, paused) and 2 fast clients, default limits`,
    value: fmtMB(r.peakRssBytes), baselineName: 'the same server\'s RSS before the burst, every reader connected', baseline: fmtMB(r.startRssBytes),
    ratio, spread: [ratio, ratio], target: '≤ 150 MB', met: r.fastOk && r.peakRssBytes <= BURST_TARGET, judged: `${fmtMB(r.peakRssBytes)}${r.fastOk ? '' : ', a fast client lost events'}`,
    note: `${r.fastOk ? `fast clients got every event (${r.events.toLocaleString('en-US')} each, contiguous seqs)` : `LOSS at a fast client: ${r.fastProblems.slice(0, 2).join('; ')}`}; `
      + `${dropped} of 2 slow readers disconnected (${r.disconnected.connection} for limits.sendBufferBytes, ${r.disconnected.total} for the server-wide buffer); RSS after the turn ${fmtMB(r.finalRssBytes)}; turn ${(r.ms / 1000).toFixed(1)} s`,
  }];
}
