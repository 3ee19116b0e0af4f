/** Opens a client to a fresh server over a named JSON-RPC transport, for tests that run on both. */
import { spawnHttp, spawnStdio, tempDir, WsClient, type RpcClient, type ServerOptions } from './rpc-client.js';

export const RPC_TRANSPORTS = ['stdio', 'websocket'] as const;
export type RpcTransport = (typeof RPC_TRANSPORTS)[number];

export interface Opened {
  client: RpcClient;
  /** Pid of the agentd server process. */
  pid: number;
  dataDir: string;
  /** What the server wrote to stderr so far (its logs). */
  stderr(): string;
  /** Another client to the same server (websocket) or a new server on the same data dir (stdio). */
  another(): Promise<RpcClient>;
  close(): Promise<void>;
}

export async function open(transport: RpcTransport, o: ServerOptions = {}): Promise<Opened> {
  const dataDir = o.dataDir ?? tempDir();
  const extra: RpcClient[] = [];
  if (transport === 'stdio') {
    const client = spawnStdio({ ...o, dataDir });
    return {
      pid: client.proc.pid!,
      client, dataDir,
      stderr: () => client.stderr,
      another: async () => { const c = spawnStdio({ ...o, dataDir }); extra.push(c); return c; },
      close: async () => { for (const c of extra) await c.close(); await client.close(); },
    };
  }
  const server = await spawnHttp({ ...o, dataDir });
  const client = await WsClient.connect(server.wsUrl);
  return {
    pid: server.proc.pid!,
    client, dataDir,
    stderr: () => server.stderr(),
    another: async () => { const c = await WsClient.connect(server.wsUrl); extra.push(c); return c; },
    close: async () => { for (const c of extra) await c.close(); await client.close(); await server.stop(); },
  };
}
