/**
 * 5. Memory: RSS of an idle `agentd serve --stdio` after initialize, against a bare Node process;
 * RSS per idle session (create many, divide the growth), against a bare Node process holding
 * the same number of parsed session objects in a Map.
 */
import { spawn } from 'node:child_process';
import { CHILD, fmtKB, fmtMB, ratioRow, settledRss, sleep, StdioServer, type Options, type Row } from './lib.js';

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
  const floor: number[] = [];
  const perSession: number[] = [];
  const perObject: number[] = [];
  const repeats = Math.min(o.repeats, 3);
  for (let r = 0; r < repeats; r++) {
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
  o.log(`memory: idle ${idle.map(fmtMB)} floor ${floor.map(fmtMB)} per session ${perSession.map(fmtKB)} per object ${perObject.map(fmtKB)}`);
  const idleRow = ratioRow({ group: '5. memory', name: 'idle RSS after initialize (`serve --stdio`)', baselineName: 'bare `node -e` process' }, idle, floor, fmtMB);
  const sesRow = ratioRow({ group: '5. memory', name: `RSS per idle session (${n.toLocaleString('en-US')} created)`, baselineName: 'the same session objects in a Map (heap growth), bare Node' }, perSession, perObject, fmtKB);
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return [
    { ...idleRow, target: '≤ 60 MB', met: med(idle) <= 60 * 1048576 },
    { ...sesRow, target: '≤ 20 KB', met: med(perSession) <= 20 * 1024 },
  ];
}
