/**
 * How the terminal clients (`agentd run`, `agentd chat`, `agentd session ...`) reach a server,
 * parsed in one place: `--url ws://…/rpc` (WebSocket), `--url http://…` (REST + SSE), `--stdio`
 * (spawn `agentd serve --stdio` and talk over its pipes), or in-process: a server on the data
 * dir inside this process (server/embedded.ts, registered by the CLI with setInProcessServer),
 * reached over in-memory streams. The API key comes from `--api-key` or $AGENTD_API_KEY and goes
 * in `Authorization: Bearer <key>`. A spawned or in-process server logs to `agentd.log` in its
 * data dir (`--verbose`: to stderr), never onto the terminal.
 */
import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AgentClient, nodeWebSocketConnector, pipeConnector, restConnector, stdioConnector, type Connector, type PipeEnds,
} from '../../protocol/client/node.js';

/** The default server URL ($AGENTD_URL overrides it). */
export const DEFAULT_URL = 'ws://127.0.0.1:4096/rpc';

export interface ConnectFlags {
  /** ws(s)://host:port/rpc or http(s)://host:port. Default $AGENTD_URL or DEFAULT_URL. */
  url?: string;
  /** Spawn `agentd serve --stdio` instead of connecting to a running server. */
  stdio?: boolean;
  /** API key for --url. Default $AGENTD_API_KEY. */
  apiKey?: string;
  /** Data directory of a spawned or in-process server. */
  dataDir?: string;
  /** The server's log lines on stderr instead of the log file. */
  verbose?: boolean;
  /** Working directory of an in-process server (its project config); default the current one. */
  cwd?: string;
}

/** A server of our own, given by the CLI (server/embedded.ts), so this module stays a client. */
export interface LocalServer {
  /** Starts a server in this process on the data dir. */
  open(o: { dataDir?: string; cwd?: string; logFd: number }): Promise<PipeEnds>;
  /** The log file of a server on that data dir (`<data dir>/agentd.log`). */
  logFile(dataDir?: string): string;
}
let local: LocalServer | undefined;
export function setLocalServer(server: LocalServer) { local = server; }

/** bin/agentd.js from dist/server/chat/ (tsc output) or dist/agentd/ (the esbuild bundle). */
const AGENTD_BIN = ['../../../bin/agentd.js', '../../bin/agentd.js'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
  .find((p) => existsSync(p)) ?? fileURLToPath(new URL('../../../bin/agentd.js', import.meta.url));

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The log file keeps at most this much before it moves to `agentd.log.1` (one old file kept). */
const LOG_MAX_BYTES = 10 * 1024 * 1024;

/** A descriptor of the log file for appending (rotated once it is large); stderr with --verbose. */
function logFd(flags: ConnectFlags): number {
  const file = local?.logFile(flags.dataDir);
  if (flags.verbose || !file) return 2;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    if (statSync(file).size > LOG_MAX_BYTES) renameSync(file, `${file}.1`);
  } catch {
    // no log yet
  }
  return openSync(file, 'a', 0o600);
}

/** Where a server of our own logs, for error messages. */
export const logHint = (flags: ConnectFlags) => {
  const file = local?.logFile(flags.dataDir);
  return flags.verbose || !file ? '' : ` (server log: ${file})`;
};

function urlConnector(url: string, apiKey: string | undefined): Connector {
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

function stdioChild(flags: ConnectFlags): Connector {
  return {
    kind: 'stdio',
    connect: async () => {
      const fd = logFd(flags);
      try {
        return await stdioConnector({
          command: process.execPath,
          args: [AGENTD_BIN, 'serve', '--stdio', ...(flags.dataDir ? ['--data-dir', flags.dataDir] : [])],
          stderr: fd === 2 ? 'inherit' : fd,
        }).connect();
      } finally {
        if (fd !== 2) closeSync(fd); // the child holds its own copy
      }
    },
  };
}

export function inProcessConnector(flags: ConnectFlags): Connector {
  const server = local;
  if (!server) throw new Error('no in-process server in this build');
  return pipeConnector(() => server.open({ dataDir: flags.dataDir, cwd: flags.cwd, logFd: logFd(flags) }), { kind: 'in-process' });
}

/** Whether something accepts TCP connections at the URL's host and port (a quick local probe). */
function listening(url: string, timeoutMs = 500): Promise<boolean> {
  const u = new URL(url);
  const port = Number(u.port) || (u.protocol === 'wss:' || u.protocol === 'https:' ? 443 : 80);
  return new Promise((resolve) => {
    const s = tcpConnect({ host: u.hostname.replace(/^\[|\]$/g, ''), port });
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * The connector the flags describe. `fallback` (chat, session): without --url, --stdio and
 * --data-dir, the server at $AGENTD_URL or the default URL if one listens, else in-process.
 * `inProcess` (run): without --url or --stdio, always in-process.
 */
export async function connectorFor(flags: ConnectFlags, mode: 'fallback' | 'inProcess' = 'fallback'): Promise<Connector> {
  if (flags.stdio && flags.url) throw new UsageError('--url and --stdio exclude each other');
  if (flags.dataDir && flags.url) throw new UsageError('--data-dir is for a server of your own (in-process or --stdio), not with --url');
  if (flags.stdio) return stdioChild(flags);
  const apiKey = flags.apiKey ?? (process.env.AGENTD_API_KEY || undefined);
  if (flags.url) return urlConnector(flags.url, apiKey);
  if (mode === 'inProcess' || flags.dataDir) return inProcessConnector(flags);
  if (process.env.AGENTD_URL) return urlConnector(process.env.AGENTD_URL, apiKey);
  return (await listening(DEFAULT_URL)) ? urlConnector(DEFAULT_URL, apiKey) : inProcessConnector(flags);
}

/** Runs `fn` with a client connected as the flags say (connectorFor, `fallback`), closed afterwards. */
export async function withClient<T>(flags: ConnectFlags, fn: (client: AgentClient) => Promise<T>): Promise<T> {
  const client = new AgentClient(await connectorFor(flags), { clientInfo: { name: 'agentd-cli' } });
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.close().catch(() => undefined);
  }
}
