/** Helpers for the durability tests: a server over one transport that can be killed and restarted on its data dir. */
import { spawnHttp, spawnStdio, WsClient, type Json, type RpcClient, type ServerOptions } from './rpc-client.js';
import type { RpcTransport } from './transports.js';

export interface Running {
  client: RpcClient;
  pid: number;
  /** kill -9 the server process; resolves once it is gone. */
  kill9(): Promise<void>;
  /** Sends a signal and resolves with the exit code. */
  signal(sig: NodeJS.Signals): Promise<number | null>;
  stderr(): string;
  close(): Promise<void>;
}

export const TEST_ENV = { AGENTD_TEST_TOOLS: '1' };

export async function start(transport: RpcTransport, dataDir: string, o: ServerOptions = {}): Promise<Running> {
  const env = { ...TEST_ENV, ...o.env };
  if (transport === 'stdio') {
    const client = spawnStdio({ ...o, dataDir, env });
    const exited = client.exited;
    return {
      client, pid: client.proc.pid!,
      kill9: async () => { client.proc.kill('SIGKILL'); await exited; },
      signal: async (sig) => { client.proc.kill(sig); return bounded(exited, 10_000, 'exit'); },
      stderr: () => client.stderr,
      close: () => client.close(),
    };
  }
  const server = await spawnHttp({ ...o, dataDir, env });
  const client = await WsClient.connect(server.wsUrl);
  const exited = new Promise<number | null>((resolve) => {
    if (server.proc.exitCode !== null || server.proc.signalCode !== null) resolve(server.proc.exitCode);
    else server.proc.once('exit', (code) => resolve(code));
  });
  return {
    client, pid: server.proc.pid!,
    kill9: async () => { server.proc.kill('SIGKILL'); await exited; await client.close(); },
    signal: async (sig) => { server.proc.kill(sig); return bounded(exited, 10_000, 'exit'); },
    stderr: server.stderr,
    close: async () => { await client.close(); await server.stop(); },
  };
}

export function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms); }),
  ]);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits until none of `pids` is alive (zombies of our own children aside, they are not ours here). */
export async function waitGone(pids: number[], ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pids.every((p) => !alive(p))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pids.every((p) => !alive(p));
}

/** The pids a `test_sleep` tool reported (its `pids <sh> <sleep>` output line). */
export async function toolPids(client: RpcClient, sessionId: string): Promise<number[]> {
  const ev: Json = await client.waitForEvent('tool.output', (e) => e.sessionId === sessionId && /pids \d+ \d+/.test(e.data.text));
  const m = /pids (\d+) (\d+)/.exec(ev.data.text)!;
  return [Number(m[1]), Number(m[2])];
}

/** Kills leftover pids (a kill -9'd server cannot clean up after itself). */
export function reap(pids: number[]) {
  for (const p of pids) {
    try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
}

/** Joins the text parts of a message. */
export const textOf = (m: Json): string => m.content.filter((p: Json) => p.type === 'text').map((p: Json) => p.text).join('');
