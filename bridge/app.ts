/**
 * The REST + SSE bridge at /v1: an Express app that only maps HTTP onto the one dispatcher
 * (routes.ts, sse.ts; bridge/deps.ts says what else it needs); errors of every kind leave through errors.ts. `agentd serve`
 * installs it with setHttpHandler, so it shares the HTTP server and port of the WebSocket /rpc.
 */
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { ipKeyGenerator, MemoryStore, rateLimit } from 'express-rate-limit';
import { ErrorCodes, httpRoutes, PROTOCOL_VERSION } from '../protocol/index.js';
import openapi from '../protocol/generated/openapi.json' with { type: 'json' };
import type { BridgeDeps } from './deps.js';
import { RpcError } from '../server/rpc/errors.js';
import type { RequestListener } from '../server/serve.js';
import { rateLimited, rateSubject, type RateSubject } from '../server/security/rate.js';
import { DEFAULT_RATE } from '../server/config/defaults.js';
import { RPC_PATH } from '../server/transport/websocket.js';
import { errorHandler, HttpError, notFound, sendError } from './errors.js';
import { expressPath, mountRoutes, restRoutes } from './routes.js';
import { chatPage } from './page.js';
import { mountSse, sseRoutes, type SseOptions } from './sse.js';

export interface BridgeOptions extends SseOptions {}

const hasBody = (req: Request) =>
  req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

/**
 * JSON bodies only, up to limits.maxBodyBytes (read per request: config updates apply at once).
 * A body with another content type is refused (415) rather than silently ignored.
 */
function jsonBody(core: BridgeDeps): RequestHandler {
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
    next(new HttpError(405, new RpcError(ErrorCodes.MethodNotFound, `Method ${req.method} is not allowed on ${req.path} (allowed: ${allow})`, { method: req.method, path: req.path, allow }), { Allow: allow }));
}

/**
 * Requests per minute per API key (or per client IP without one; loopback is one client):
 * security.rateLimit.requestsPerMinute, default 600, read per request so config changes apply at
 * once. Only for clients the limits apply to (off loopback, server/security/rate.ts), never for
 * /v1/health. Over it: 429 with Retry-After. A config update that would leave its caller over the
 * new limit (locked out, the corrective update included) is refused, naming the field.
 */
function restRateLimit(core: BridgeDeps): RequestHandler {
  const store = new MemoryStore();
  const rate = () => core.config.get().security?.rateLimit;
  const subjectOf = (req: Request) => rateSubject(req.socket.remoteAddress, (req as Request & { principal?: string }).principal);
  // IPv6 clients count per /56 (express-rate-limit's rule): one host has many addresses.
  const keyOf = (s: RateSubject) => (s.key.startsWith('ip:') && !s.loopback ? `ip:${ipKeyGenerator(s.address)}` : s.key);
  core.config.addCheck(async (effective, caller) => {
    const limits = effective.security?.rateLimit;
    if (!caller.rate || !rateLimited(caller.rate, limits)) return;
    const limit = limits?.requestsPerMinute ?? DEFAULT_RATE.requestsPerMinute;
    // This very request counts, even when the caller was not limited before.
    const hits = Math.max(1, (await store.get(keyOf(caller.rate)))?.totalHits ?? 0);
    if (hits >= limit) {
      throw RpcError.invalidParams('config.security.rateLimit.requestsPerMinute', `would lock this client out: it made ${hits} requests in the current minute, and the limit would be ${limit}`);
    }
  });
  return rateLimit({
    windowMs: 60_000,
    store,
    limit: () => rate()?.requestsPerMinute ?? DEFAULT_RATE.requestsPerMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    skip: (req) => req.path === httpRoutes.health.path || !rateLimited(subjectOf(req), rate()),
    keyGenerator: (req) => keyOf(subjectOf(req)),
    handler: (req, res) => {
      const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const retryAfter = Math.max(1, Math.ceil(((reset?.getTime() ?? Date.now() + 60_000) - Date.now()) / 1000));
      res.setHeader('Retry-After', String(retryAfter));
      sendError(res, RpcError.rateLimited(retryAfter));
    },
  });
}

/**
 * A path with malformed percent-encoding (`/v1/session/%ZZ`) is the client's error: 400 before
 * any route (Express would fail decoding its parameters, a 500).
 */
const wellFormedPath: RequestHandler = (req, _res, next) => {
  try {
    decodeURIComponent(req.path);
  } catch {
    return next(RpcError.invalidRequest(`malformed percent-encoding in the path ${JSON.stringify(req.path.slice(0, 200))}`));
  }
  next();
};

export function createApp(core: BridgeDeps, opts: BridgeOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(wellFormedPath);
  app.use(restRateLimit(core));
  app.use(jsonBody(core));

  const router = express.Router();
  mountSse(router, core, opts);
  mountRoutes(router, core);
  router.get(expressPath(httpRoutes.health.path), (_req, res) => {
    if (core.stopping.aborted) return sendError(res, RpcError.shuttingDown());
    res.json({ status: 'ok', name: 'agentd', version: core.version, protocolVersion: PROTOCOL_VERSION });
  });
  router.get(expressPath(httpRoutes.openapi.path), (req, res) => {
    res.json({ ...openapi, servers: [{ url: `${req.protocol}://${req.get('host') ?? '127.0.0.1:4096'}` }] });
  });
  const verbs = new Map<string, string[]>();
  for (const r of [...restRoutes, ...sseRoutes, httpRoutes.health, httpRoutes.openapi]) verbs.set(r.path, [...(verbs.get(r.path) ?? []), r.method]);
  for (const [path, allowed] of verbs) router.all(expressPath(path), methodNotAllowed(allowed));

  app.use(router);
  app.use(chatPage());
  // The WebSocket endpoint shares the port; a plain request there gets told how to use it.
  app.use((req, _res, next) => next(req.path === RPC_PATH
    ? new HttpError(426, RpcError.invalidRequest(`${RPC_PATH} is the JSON-RPC WebSocket endpoint: send a WebSocket upgrade`), { Upgrade: 'websocket' })
    : undefined));
  app.use(notFound);
  app.use(errorHandler(core.log));
  return app;
}

/** The factory for setHttpHandler. */
export function bridgeHandler(opts: BridgeOptions = {}): (core: BridgeDeps) => Promise<RequestListener> {
  return async (core) => createApp(core, opts) as unknown as RequestListener;
}
