/**
 * Protocol error codes to HTTP statuses (the table is protocol/errors.json), and the one error body:
 * `{"error": {"code", "message", "data"?}}` (ErrorBody), for every failure of the /v1 bridge:
 * a handler's typed error, a malformed or oversized body, a wrong content type, an unknown
 * route. Never an HTML page or a stack trace.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { errorHttpStatus, ErrorCodes } from '../protocol/index.js';
import { RpcError } from '../server/rpc/errors.js';

/** The HTTP status of a protocol error code: protocol/errors.json `http` (generated into errorHttpStatus). */
export function httpStatus(code: number): number {
  return errorHttpStatus.get(code) ?? 500;
}

/** An error the bridge raises itself, with a status the code alone does not decide (405, 415). */
export class HttpError extends RpcError {
  constructor(readonly status: number, error: RpcError, readonly headers: Record<string, string> = {}) {
    super(error.code, error.message, error.data);
  }
}

/** Writes the error body; once a stream has started, it can only end the response. */
export function sendError(res: Response, err: RpcError) {
  if (res.headersSent) {
    res.end();
    return;
  }
  const status = err instanceof HttpError ? err.status : httpStatus(err.code);
  if (err instanceof HttpError) res.set(err.headers);
  if (err.code === ErrorCodes.RateLimited && typeof err.data?.retryAfter === 'number') res.set('Retry-After', String(Math.ceil(err.data.retryAfter)));
  if (status === 413) res.set('Connection', 'close');
  res.status(status).json({ error: err.toJSON() });
}

/** body-parser's failures (it sets `type` and `status`) as typed errors. */
function fromBodyParser(err: { type?: string; status?: number; message?: string; limit?: number }): RpcError | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return RpcError.parse('the request body is not valid JSON');
    case 'entity.too.large':
      return RpcError.tooLarge(err.limit ?? 0);
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new HttpError(415, RpcError.invalidRequest(err.message ?? 'unsupported body encoding'));
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return RpcError.invalidRequest(err.message ?? 'the request body could not be read');
    default:
      return undefined;
  }
}

/** The last error handler: everything thrown or passed to next() ends here. */
export function errorHandler(log: { error(o: object, msg: string): void }): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let e: RpcError | undefined = err instanceof RpcError ? err : fromBodyParser(err ?? {});
    if (!e) {
      log.error({ err: String(err), method: req.method, path: req.path }, 'bridge request failed');
      e = RpcError.internal(`${req.method} ${req.path}`);
    }
    sendError(res, e);
  };
}

/** Unknown route (after every route): 404 with MethodNotFound. */
export const notFound: RequestHandler = (req, res) => {
  sendError(res, new RpcError(ErrorCodes.MethodNotFound, `No route: ${req.method} ${req.path}`, { method: req.method, path: req.path }));
};
