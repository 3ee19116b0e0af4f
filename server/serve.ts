/**
 * `agentd serve`: the stdio server, or the HTTP server that carries WebSocket (/rpc) and the
 * REST bridge (/v1) on one port. Signals and `exit` end the process cleanly.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Core, type CoreOptions } from './core.js';
import { serveStdio } from './transport/stdio.js';

export interface ServeOptions extends CoreOptions {
  stdio?: boolean;
  host?: string;
  port?: number;
}

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** The HTTP handler for everything that is not the WebSocket upgrade; the REST bridge replaces it. */
let httpHandler: (core: Core) => Promise<RequestListener> = async () => (req, res) => {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code: -32601, message: `No route: ${req.method} ${req.url}` } }));
};

export function setHttpHandler(factory: (core: Core) => Promise<RequestListener>) {
  httpHandler = factory;
}

export interface HttpServerHandle {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startHttp(core: Core, host = '127.0.0.1', port = 4096): Promise<HttpServerHandle> {
  // Loaded here, not at the top: `serve --stdio` never needs ws (cold start, see bench/).
  const { attachWebSocket } = await import('./transport/websocket.js');
  const server = createServer(await httpHandler(core));
  attachWebSocket(core, server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  return {
    server,
    url,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** Runs the server until a signal, `exit` (stdio) or stdin closing (stdio). */
export async function serve(opts: ServeOptions): Promise<void> {
  const core = new Core(opts);
  let stopping = false;
  let http: HttpServerHandle | undefined;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => process.exit(code), 5000);
    timer.unref();
    try {
      await http?.close();
      await core.close();
    } finally {
      core.log.flush?.();
      process.exitCode = code;
      // stdout must drain before exit (stdio responses).
      process.stdout.write('', () => process.exit(code));
    }
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));

  if (opts.stdio) {
    const peer = serveStdio(core, { onExit: (code) => void stop(code) });
    core.trackPeer(peer);
    process.stdin.on('end', () => void stop(0));
    core.log.info({ dataDir: core.dataDir }, 'agentd serving on stdio');
    return;
  }
  http = await startHttp(core, opts.host, opts.port);
  core.log.info({ url: http.url, dataDir: core.dataDir }, 'agentd listening');
  process.stdout.write(`agentd listening on ${http.url} (WebSocket ${http.url.replace('http', 'ws')}/rpc)\n`);
}
