/**
 * The REST mapping table, derived from the manifest (methodTable[...].rest): each route calls
 * the one dispatcher with params merged from the path parameters and the JSON body (or the
 * query, for GET and DELETE). There is no REST-specific handler logic.
 */
import type { Request, RequestHandler, Response, Router } from 'express';
import { methodTable, restMethods, type DefinitionName, type RestMethodName, type RestSpec } from '../protocol/index.js';
// Not through protocol/index.js: the bundle then keeps the schema (70 KB) in the bridge's chunk, off the start path.
import { schemaBundle } from '../protocol/generated/schema.js';
import type { BridgeDeps } from './deps.js';
import { RpcError } from '../server/rpc/errors.js';
import { RestPeer } from './peer.js';

export interface RestRoute {
  /** JSON-RPC method the route calls. */
  rpcMethod: RestMethodName;
  /** HTTP verb. */
  method: RestSpec['method'];
  /** OpenAPI-style path (`/v1/session/{sessionId}`). */
  path: string;
  /** Status of a success; `asyncStatus` when the client asked `Prefer: respond-async`. */
  status: number;
  asyncStatus?: number;
  /** Params definition name (for query coercion). */
  params: DefinitionName;
}

/** Every REST route, in manifest order. */
export const restRoutes: RestRoute[] = restMethods.map((name) => {
  const { rest, params } = methodTable[name];
  return { rpcMethod: name, method: rest.method, path: rest.path, status: rest.status, asyncStatus: rest.asyncStatus, params };
});

/** `/v1/session/{sessionId}` → `/v1/session/:sessionId` (Express). */
export const expressPath = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');

type PropSchema = { type?: string | string[] };
const definitions = schemaBundle.definitions as unknown as Record<string, { properties?: Record<string, PropSchema> }>;

/** Query strings are text: turn `since=5` into 5 and `flag=true` into true where the schema wants that. */
function coerceQuery(definition: string, query: Record<string, unknown>): Record<string, unknown> {
  const props = definitions[definition]?.properties ?? {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(query)) {
    const types = ([] as string[]).concat(props[k]?.type ?? []);
    if (typeof v === 'string' && (types.includes('integer') || types.includes('number')) && /^-?\d+(\.\d+)?$/.test(v)) out[k] = Number(v);
    else if (typeof v === 'string' && types.includes('boolean') && (v === 'true' || v === 'false')) out[k] = v === 'true';
    else out[k] = v;
  }
  return out;
}

/** Params of a request: the body (or query), with the path parameters merged in by name. */
export function paramsOf(req: Request, definition: string, from: 'body' | 'query', onlyQuery?: readonly string[]): Record<string, unknown> {
  let source: Record<string, unknown>;
  if (from === 'query') {
    const query = { ...(req.query as Record<string, unknown>) };
    if (onlyQuery) {
      const extra = Object.keys(query).find((k) => !onlyQuery.includes(k));
      if (extra) throw RpcError.invalidParams(extra, 'is not allowed');
    }
    source = coerceQuery(definition, query);
  } else {
    const body: unknown = req.body;
    if (body === undefined) source = {};
    else if (body === null || typeof body !== 'object' || Array.isArray(body)) throw RpcError.invalidParams('(body)', 'must be a JSON object');
    else source = { ...(body as Record<string, unknown>) };
  }
  for (const [name, value] of Object.entries(req.params as Record<string, string>)) {
    if (name in source && source[name] !== value) throw RpcError.invalidParams(name, 'differs from the value in the path');
    source[name] = value;
  }
  return source;
}

/**
 * `Idempotency-Key` header → the `idempotencyKey` param, on methods that take one (elsewhere the
 * header is ignored). A body that names another key is a contradiction: InvalidParams.
 */
export function idempotencyHeader(req: Request, definition: string, params: Record<string, unknown>) {
  const key = req.get('idempotency-key');
  if (key === undefined || !definitions[definition]?.properties?.idempotencyKey) return;
  if (params.idempotencyKey !== undefined && params.idempotencyKey !== key) throw RpcError.invalidParams('idempotencyKey', 'differs from the Idempotency-Key header');
  params.idempotencyKey = key;
}

/** `Prefer: respond-async` (RFC 7240), possibly among other preferences. */
export function prefersAsync(req: Request): boolean {
  const prefer = req.get('prefer');
  return !!prefer && prefer.split(',').some((p) => p.split(/[;=]/)[0].trim().toLowerCase() === 'respond-async');
}

/** The handler of one route: dispatch, then answer with the route's status and the result. */
function handle(core: BridgeDeps, route: RestRoute): RequestHandler {
  const from = route.method === 'GET' || route.method === 'DELETE' ? 'query' : 'body';
  return async (req: Request, res: Response) => {
    const params = paramsOf(req, route.params, from);
    idempotencyHeader(req, route.params, params);
    const respondAsync = route.asyncStatus !== undefined && (prefersAsync(req) || params.async === true);
    const peer = new RestPeer(req, res);
    // Tracked while it runs, so revoking its key fails it at once (server/security/keys.ts).
    core.trackPeer(peer);
    const result = await core.dispatcher.request(route.rpcMethod, params, { peer, signal: peer.lifetime.signal, respondAsync });
    if (res.destroyed) return;
    if (respondAsync) res.set('Preference-Applied', 'respond-async');
    res.status(respondAsync ? route.asyncStatus! : route.status).json(result);
  };
}

/** Mounts every route of the table on the router. */
export function mountRoutes(router: Router, core: BridgeDeps) {
  for (const route of restRoutes) {
    const verb = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
    router[verb](expressPath(route.path), handle(core, route));
  }
}
