/**
 * The one error class of the server. Codes come from protocol/errors.json (ErrorCodes);
 * transports turn it into a JSON-RPC error object, the bridge into an HTTP status + body.
 */
import { ErrorCodes, type ErrorCode, type ErrorObject } from '../../protocol/index.js';
import { StoreUnavailableError } from '../store/store.js';

export class RpcError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly data?: Record<string, unknown>) {
    super(message);
    this.name = 'RpcError';
  }

  toJSON(): ErrorObject {
    return this.data === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, data: this.data };
  }

  static parse(reason: string) { return new RpcError(ErrorCodes.ParseError, `Parse error: ${reason}`); }
  static invalidRequest(reason: string, data?: Record<string, unknown>) { return new RpcError(ErrorCodes.InvalidRequest, `Invalid request: ${reason}`, data); }
  static methodNotFound(method: string) { return new RpcError(ErrorCodes.MethodNotFound, `Unknown method: ${method}`, { method }); }
  /** `data` is always `{ field, reason, errors }` (README): `errors` lists every bad field, at least the first. */
  static invalidParams(field: string, reason: string, errors: Array<{ field: string; reason: string }> = [{ field, reason }]) {
    return new RpcError(ErrorCodes.InvalidParams, `Invalid params: ${field} ${reason}`, { field, reason, errors });
  }
  static internal(method: string) { return new RpcError(ErrorCodes.InternalError, `Internal error while handling ${method}`, { method }); }
  static notInitialized() { return new RpcError(ErrorCodes.ServerNotInitialized, 'Server not initialized: send `initialize` first'); }
  static cancelled() { return new RpcError(ErrorCodes.RequestCancelled, 'Request cancelled'); }
  static notFound(kind: string, id: string) { return new RpcError(ErrorCodes.NotFound, `${kind} not found: ${id}`, { kind, id }); }
  static busy(sessionId: string, turnId?: string | null) {
    return new RpcError(ErrorCodes.SessionBusy, `Session ${sessionId} is busy with a running turn`, { sessionId, turnId: turnId ?? null });
  }
  static conflict(reason: string, data?: Record<string, unknown>) { return new RpcError(ErrorCodes.Conflict, `Conflict: ${reason}`, data); }
  static unauthorized(reason = 'missing or invalid credential') { return new RpcError(ErrorCodes.Unauthorized, `Unauthorized: ${reason}`); }
  static forbidden(reason: string) { return new RpcError(ErrorCodes.Forbidden, `Forbidden: ${reason}`); }
  static rateLimited(retryAfter: number) { return new RpcError(ErrorCodes.RateLimited, 'Too many requests', { retryAfter }); }
  static provider(message: string, data: { provider: string; status?: number; type?: string }) {
    return new RpcError(ErrorCodes.ProviderError, message, data);
  }
  static tooLarge(limit: number) { return new RpcError(ErrorCodes.PayloadTooLarge, `Payload too large (limit ${limit} bytes)`, { limit }); }
  static shuttingDown() { return new RpcError(ErrorCodes.ShuttingDown, 'Server is shutting down'); }
  static timeout(what: string) { return new RpcError(ErrorCodes.Timeout, `Timed out: ${what}`); }
  static mcp(server: string, reason: string) { return new RpcError(ErrorCodes.McpError, `MCP server ${server}: ${reason}`, { server, reason }); }
  /** Session affinity: the session belongs to another node (`url`: the address it advertises). */
  static wrongNode(sessionId: string, node: number, url?: string) {
    return new RpcError(ErrorCodes.WrongNode, url ? `Session ${sessionId} belongs to node ${node}: send this request to ${url}`
      : `Session ${sessionId} belongs to node ${node}, which advertises no address (store.nodeUrl): send this request to that node`, { sessionId, node, ...(url ? { url } : {}) });
  }
  static storeUnavailable() { return new RpcError(ErrorCodes.StoreUnavailable, 'Store unavailable: the database could not be reached; retry after a pause'); }
  static limit(what: string, limit: number) { return new RpcError(ErrorCodes.LimitExceeded, `Limit reached: ${what} (${limit})`, { limit }); }
}

/**
 * Any thrown value as an RpcError: the one place unknown errors are converted. They become
 * InternalError naming the method, without internals (logged with `log` when given); a store
 * that cannot be reached is StoreUnavailable.
 */
export function toRpcError(err: unknown, method: string, log?: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void }): RpcError {
  if (err instanceof RpcError) return err;
  if (err instanceof StoreUnavailableError) {
    log?.warn({ err: String(err.cause), method }, 'store unavailable');
    return RpcError.storeUnavailable();
  }
  log?.error({ err, method }, 'handler failed');
  return RpcError.internal(method);
}

/** The body of an HTTP refusal outside the REST routes (access guard, upgrades, no HTTP handler): `{ error: { code, message } }`. */
export function refusalBody(r: { code: number; message: string }): string {
  return JSON.stringify({ error: { code: r.code, message: r.message } });
}
