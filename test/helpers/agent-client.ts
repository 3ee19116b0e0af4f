/** Opens the typed client library (protocol/client) on a fresh real server, over stdio or WebSocket. */
import { AgentClient, nodeWebSocketConnector, stdioConnector, type AgentClientOptions, type StdioConnectorOptions } from '../../protocol/client/node.js';
import { AGENTD, ROOT, spawnHttp, tempDir, type HttpServer } from './rpc-client.js';

export const CLIENT_TRANSPORTS = ['stdio', 'websocket'] as const;
export type ClientTransport = (typeof CLIENT_TRANSPORTS)[number];

export const serverEnv = (extra: Record<string, string> = {}) => ({ ...process.env, AGENTD_LOG_LEVEL: 'warn', AGENTD_CHECK_RESULTS: '1', AGENTD_DETECT_LOCAL: '0', ...extra });

/** A stdio connector that spawns this checkout's agentd on a data dir. */
export function localStdio(dataDir: string, hooks: Pick<StdioConnectorOptions, 'onStderr' | 'onSpawn'> = {}) {
  return stdioConnector({
    command: process.execPath, args: [AGENTD, 'serve', '--stdio', '--data-dir', dataDir],
    env: serverEnv(), cwd: ROOT, ...hooks,
  });
}

export interface OpenedClient {
  client: AgentClient;
  dataDir: string;
  server?: HttpServer;
  close(): Promise<void>;
}

export async function openClient(transport: ClientTransport, opts: AgentClientOptions = {}, setup?: (c: AgentClient) => void): Promise<OpenedClient> {
  const dataDir = tempDir();
  if (transport === 'stdio') {
    const client = new AgentClient(localStdio(dataDir), opts);
    setup?.(client);
    await client.connect();
    return { client, dataDir, close: () => client.close() };
  }
  const server = await spawnHttp({ dataDir });
  const client = new AgentClient(nodeWebSocketConnector({ url: server.wsUrl }), opts);
  setup?.(client);
  await client.connect();
  return { client, dataDir, server, close: async () => { await client.close(); await server.stop(); } };
}

/** Waits until pred() holds, polling; fails after ms. */
export async function until<T>(pred: () => T | undefined | false, ms = 10_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
