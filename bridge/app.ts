/**
 * The REST + SSE bridge at /v1: an Express app over a Core. It only maps HTTP onto the one
 * dispatcher (routes.ts, sse.ts); errors of every kind leave through errors.ts. `agentd serve`
 * installs it with setHttpHandler, so it shares the HTTP server and port of the WebSocket /rpc.
 */
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { httpRoutes, PROTOCOL_VERSION } from '../protocol/index.js';
import openapi from '../protocol/generated/openapi.json' with { type: 'json' };
import type { Core } from '../server/core.js';
import { RpcError } from '../server/rpc/errors.js';
import type { RequestListener } from '../server/serve.js';
import { RPC_PATH } from '../server/transport/websocket.js';
import { errorHandler, HttpError, notFound, sendError } from './errors.js';
import { expressPath, mountRoutes, restRoutes } from './routes.js';
import { mountSse, sseRoutes, type SseOptions } from './sse.js';

export interface BridgeOptions extends SseOptions {}

const hasBody = (req: Request) =>
  req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

/**
 * JSON bodies only, up to limits.maxBodyBytes (read per request: config updates apply at once).
 * A body with another content type is refused (415) rather than silently ignored.
 */
function jsonBody(core: Core): RequestHandler {
  const parsers = new Map<number, RequestHandler>();
  return (req: Request, res: Response, next: NextFunction) => {
    if (!hasBody(req)) return next();
    if (!req.is(['application/json', '+json'])) {
      const type = req.get('content-type') ?? '(none)';
      return next(new HttpError(415, RpcError.invalidRequest(`the body must be JSON (Content-Type: application/json), not ${type}`)));
    }
    const limit = core.config.limits().maxBodyBytes;
    let parser = parsers.get(limit);
    if (!parser) {
      parser = express.json({ limit, strict: false, type: () => true });
      parsers.set(limit, parser);
    }
    parser(req, res, next);
  };
}

/** Known path, wrong verb: 405 with the verbs the path has. */
function methodNotAllowed(allowed: string[]): RequestHandler {
  const allow = [...new Set(allowed.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])))].join(', ');
  return (req, _res, next) =>
    next(new HttpError(405, new RpcError(-32601, `Method ${req.method} is not allowed on ${req.path} (allowed: ${allow})`, { method: req.method, path: req.path, allow }), { Allow: allow }));
}

/**
 * Requests per minute per API key (or per client IP without one): security.rateLimit.requestsPerMinute,
 * default 600, read per request so config changes apply at once. Over it: 429 with Retry-After.
 */
function restRateLimit(core: Core): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: () => core.config.get().security?.rateLimit?.requestsPerMinute ?? 600,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req) => {
      const principal = (req as Request & { principal?: string }).principal;
      return principal?.startsWith('key:') ? principal : ipKeyGenerator(req.socket.remoteAddress ?? 'unknown');
    },
    handler: (req, res) => {
      const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const retryAfter = Math.max(1, Math.ceil(((reset?.getTime() ?? Date.now() + 60_000) - Date.now()) / 1000));
      res.setHeader('Retry-After', String(retryAfter));
      sendError(res, RpcError.rateLimited(retryAfter));
    },
  });
}

export function createApp(core: Core, opts: BridgeOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(restRateLimit(core));
  app.use(jsonBody(core));

  const router = express.Router();
  mountSse(router, core, opts);
  mountRoutes(router, core);
  router.get(expressPath(httpRoutes.health.path), (_req, res) => {
    if (core.shuttingDown) return sendError(res, RpcError.shuttingDown());
    res.json({ status: 'ok', name: 'agentd', version: core.version, protocolVersion: PROTOCOL_VERSION });
  });
  router.get(expressPath(httpRoutes.openapi.path), (req, res) => {
    res.json({ ...openapi, servers: [{ url: `${req.protocol}://${req.get('host') ?? '127.0.0.1:4096'}` }] });
  });
  const verbs = new Map<string, string[]>();
  for (const r of [...restRoutes, ...sseRoutes, httpRoutes.health, httpRoutes.openapi]) verbs.set(r.path, [...(verbs.get(r.path) ?? []), r.method]);
  for (const [path, allowed] of verbs) router.all(expressPath(path), methodNotAllowed(allowed));

  app.use(router);
  // The WebSocket endpoint shares the port; a plain request there gets told how to use it.
  app.use((req, _res, next) => next(req.path === RPC_PATH
    ? new HttpError(426, RpcError.invalidRequest(`${RPC_PATH} is the JSON-RPC WebSocket endpoint: send a WebSocket upgrade`), { Upgrade: 'websocket' })
    : undefined));
  app.use(notFound);
  app.use(errorHandler(core.log));
  return app;
}

/** The factory for setHttpHandler. */
export function bridgeHandler(opts: BridgeOptions = {}): (core: Core) => Promise<RequestListener> {
  return async (core) => createApp(core, opts) as unknown as RequestListener;
}
