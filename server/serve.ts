/**
 * `agentd serve`: the stdio server, or the HTTP server that carries WebSocket (/rpc) and the
 * REST bridge (/v1) on one port. Signals, `exit`, stdin closing and (stdio) the parent exiting
 * end the process cleanly through Core.close (server/shutdown.ts).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Core, type CoreOptions } from './core.js';
import { ErrorCodes } from '../protocol/index.js';
import { refusalBody } from './rpc/errors.js';
import { watchParent } from './transport/liveness.js';
import { AccessGuard, isLoopback, type AdmittedRequest } from './security/guard.js';
import { watchRevocations } from './security/keys.js';
import { RateLimiter, rateLimited, rateSubject } from './security/rate.js';
import { DEFAULT_PORT, DEFAULT_RATE, timings } from './config/defaults.js';
import { serveStdio } from './transport/stdio.js';

export interface TlsOptions {
  /** PEM certificate file of the server. */
  cert: string;
  /** PEM private key file of the server. */
  key: string;
  /** PEM CA file that client certificates must chain to. */
  ca?: string;
  /** Refuse clients without a valid certificate (mTLS). */
  requireClientCert?: boolean;
}

export interface ServeOptions extends CoreOptions {
  stdio?: boolean;
  host?: string;
  port?: number;
  tls?: TlsOptions;
}

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** The HTTP handler for everything that is not the WebSocket upgrade; the REST bridge replaces it. */
let httpHandler: (core: Core) => Promise<RequestListener> = async () => (req, res) => {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(refusalBody({ code: ErrorCodes.MethodNotFound, message: `No route: ${req.method} ${req.url}` }));
};

export function setHttpHandler(factory: (core: Core) => Promise<RequestListener>) {
  httpHandler = factory;
}

export interface HttpServerHandle {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export interface HttpOptions {
  host?: string;
  port?: number;
  tls?: TlsOptions;
}

/** Every HTTP request passes the access guard (Host, Origin, API key) before the bridge sees it. */
function guarded(guard: AccessGuard, inner: RequestListener): RequestListener {
  return (req, res) => {
    const cors = guard.corsHeaders(req);
    if (req.method === 'OPTIONS' && req.headers.origin) {
      res.writeHead(Object.keys(cors).length ? 204 : 403, cors);
      res.end();
      return;
    }
    guard.check(req).then((verdict) => {
      if (res.destroyed) return;
      if (!verdict.ok) {
        res.writeHead(verdict.status, { 'content-type': 'application/json', ...cors });
        res.end(refusalBody(verdict));
        return;
      }
      Object.assign(req as AdmittedRequest, { principal: verdict.principal, caller: verdict.caller });
      for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);
      inner(req, res);
    }, () => res.destroy());
  };
}

/**
 * How long a client may take to send a request: its headers (AGENTD_HEADERS_TIMEOUT_MS, default
 * 20 s: a slowloris client trickling headers is cut off with 408) and the whole request with its
 * body (AGENTD_REQUEST_TIMEOUT_MS, default 120 s). Responses (SSE streams) are not limited.
 */
export function httpTimeouts() {
  const headersTimeout = timings.headersTimeoutMs();
  const requestTimeout = Math.max(headersTimeout, timings.requestTimeoutMs());
  // Node checks both every connectionsCheckingInterval: a fraction of the headers timeout.
  return { headersTimeout, requestTimeout, connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(headersTimeout / 4))) };
}

export async function startHttp(core: Core, opts: HttpOptions = {}): Promise<HttpServerHandle> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? DEFAULT_PORT;
  const guard = new AccessGuard(core, host);
  if (!isLoopback(host) && (await guard.keys.count()) === 0) {
    throw new Error(`refusing to listen on ${host} without an API key: run \`agentd key create --name <name>\` first (off loopback every client needs a key)`);
  }
  const listener = guarded(guard, await httpHandler(core));
  const { tls } = opts;
  const timeouts = httpTimeouts();
  const server: Server = tls
    ? (await import('node:https')).createServer({
      ...timeouts,
      cert: readFileSync(tls.cert), key: readFileSync(tls.key), ca: tls.ca ? readFileSync(tls.ca) : undefined,
      requestCert: !!tls.requireClientCert, rejectUnauthorized: !!tls.requireClientCert,
    }, listener)
    : createServer(timeouts, listener);
  const rate = () => core.config.get().security?.rateLimit;
  const limiter = new RateLimiter(() => ({ perSecond: rate()?.messagesPerSecond ?? DEFAULT_RATE.messagesPerSecond, burst: rate()?.burst ?? DEFAULT_RATE.burst }));
  // Loaded here, not at the top: `serve --stdio` never needs ws (cold start, see bench/).
  const { attachWebSocket, closeWebSockets } = await import('./transport/websocket.js');
  const wss = attachWebSocket(core, server, {
    guard: (req) => guard.check(req, { websocket: true }),
    limit: (req, principal) => {
      const subject = rateSubject(req.socket.remoteAddress, principal);
      return () => (rateLimited(subject, rate()) ? limiter.take(subject.key) : 0);
    },
    // ACP at /acp: the agent of `agentd acp`, on this server's core (loaded on first use; what
    // arrives meanwhile is held, at most 64 frames, and replayed once its listeners are on).
    acp: (ws, req, principal, admit, caller) => {
      const early: unknown[][] = [];
      const hold = (...args: unknown[]) => { if (early.push(args) > 64) ws.terminate(); };
      ws.on('message', hold);
      void import('./transport/acp-websocket.js').then(({ serveAcpSocket }) => {
        ws.off('message', hold);
        serveAcpSocket(core, ws, { principal, caller, rate: rateSubject(req.socket.remoteAddress, principal), admit, rpcUrl: `${tls ? 'wss' : 'ws'}://${req.headers.host}/rpc` });
        for (const args of early) ws.emit('message', ...args);
      }, (err) => { core.log.error({ err: String(err) }, 'ACP over WebSocket failed to start'); ws.close(1011); });
    },
  });
  const stopWatch = watchRevocations(core.keys, () => core.peers);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `${tls ? 'https' : 'http'}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  return {
    server,
    url,
    close: () => new Promise<void>((resolve) => {
      stopWatch();
      server.close(() => resolve());
      server.closeAllConnections();
      // Upgraded sockets are not HTTP connections any more: close them too (1001 going away).
      closeWebSockets(wss);
    }),
  };
}

/** Runs the server until a signal, `exit` (stdio), stdin closing or the parent exiting (stdio). */
export async function serve(opts: ServeOptions): Promise<void> {
  const core = await (await Core.open(opts)).start();
  let stopping = false;
  let http: HttpServerHandle | undefined;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const timeout = timings.shutdownTimeoutMs();
    // The hard bound: whatever hangs, the process is gone shortly after the graceful timeout.
    setTimeout(() => process.exit(code), timeout + 1000).unref();
    try {
      http?.server.close();
      await core.close(timeout);
      // Let connections write what shutdown produced (turn.interrupted events) before closing them.
      await new Promise((r) => setImmediate(r));
      await http?.close();
    } catch (err) {
      core.log.error({ err: String(err) }, 'shutdown failed');
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
    watchParent(() => {
      core.log.warn('parent process exited; shutting down');
      void stop(0);
    });
    core.log.info({ dataDir: core.dataDir }, 'agentd serving on stdio');
    return;
  }
  http = await startHttp(core, { host: opts.host, port: opts.port, tls: opts.tls });
  core.log.info({ url: http.url, dataDir: core.dataDir }, 'agentd listening');
  process.stdout.write(`agentd listening on ${http.url} (WebSocket ${http.url.replace(/^http/, 'ws')}/rpc)\n`);
}
