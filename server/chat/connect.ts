/**
 * How the terminal clients (`agentd chat`, `agentd session ...`) reach a server, parsed in one
 * place: `--url ws://…/rpc` (WebSocket, the default), `--url http://…` (REST + SSE), or `--stdio`
 * (spawn `agentd serve --stdio` and talk over its pipes). The API key comes from `--api-key` or
 * $AGENTD_API_KEY and goes in `Authorization: Bearer <key>`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeWebSocketConnector, restConnector, stdioConnector, type Connector } from '../../protocol/client/node.js';

/** The default server URL ($AGENTD_URL overrides it). */
export const DEFAULT_URL = 'ws://127.0.0.1:4096/rpc';

export interface ConnectFlags {
  /** ws(s)://host:port/rpc or http(s)://host:port. Default $AGENTD_URL or DEFAULT_URL. */
  url?: string;
  /** Spawn `agentd serve --stdio` instead of connecting to a running server. */
  stdio?: boolean;
  /** API key for --url. Default $AGENTD_API_KEY. */
  apiKey?: string;
  /** Data directory of the spawned server (--stdio only). */
  dataDir?: string;
}

/** bin/agentd.js of this installation (dist/server/chat/connect.js → ../../../bin). */
/** bin/agentd.js from dist/server/chat/ (tsc output) or dist/agentd/ (the esbuild bundle). */
const AGENTD_BIN = ['../../../bin/agentd.js', '../../bin/agentd.js'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
  .find((p) => existsSync(p)) ?? fileURLToPath(new URL('../../../bin/agentd.js', import.meta.url));

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The connector the flags describe; `stderr` collects the spawned server's log (stdio). */
export function connectorFor(flags: ConnectFlags, stderr?: (text: string) => void): Connector {
  if (flags.stdio && flags.url) throw new UsageError('--url and --stdio exclude each other');
  if (flags.dataDir && !flags.stdio) throw new UsageError('--data-dir applies to --stdio only');
  if (flags.stdio) {
    return stdioConnector({
      command: process.execPath,
      args: [AGENTD_BIN, 'serve', '--stdio', ...(flags.dataDir ? ['--data-dir', flags.dataDir] : [])],
      onStderr: stderr,
    });
  }
  const url = flags.url ?? process.env.AGENTD_URL ?? DEFAULT_URL;
  const apiKey = flags.apiKey ?? (process.env.AGENTD_API_KEY || undefined);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url: not a URL: ${url}`);
  }
  if (parsed.protocol === 'ws:' || parsed.protocol === 'wss:') return nodeWebSocketConnector({ url, apiKey });
  if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return restConnector({ baseUrl: url, apiKey });
  throw new UsageError(`--url must be ws://, wss://, http:// or https://, not ${parsed.protocol}`);
}
