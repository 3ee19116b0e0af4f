/**
 * The one dispatcher: a table from method name to handler. It enforces the lifecycle,
 * validates params against the protocol schema before a handler runs, and turns anything
 * thrown into a typed error. Transports and the REST bridge all call `request`.
 */
import { isClientRequest, methodTable, type ClientRequestName, type ClientRequests, type ClientRequestSpec } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import { RpcError, toRpcError } from './errors.js';
import { IdempotencyCache } from './idempotency.js';
import type { Peer } from './peer.js';
import { keyIdOf, type ApiKeys } from '../security/keys.js';
import type { EventLog } from '../events/log.js';
import type { SessionAccess } from '../security/access.js';
import type { Caller } from '../security/caller.js';
import { matches, validateParams } from './validate.js';

/** What a handler learns of the request beyond its params; services come from the handler's factory. */
export interface RequestContext {
  peer: Peer;
  /** Aborted when the client cancels the request ($/cancelRequest) or goes away. */
  signal: AbortSignal;
  /** REST: the request asked `Prefer: respond-async`. */
  respondAsync?: boolean;
  /**
   * Who sends it: the user and rights of the peer's API key (the dispatcher fills it in from the
   * peer). Absent: the local user (stdio, loopback without keys), with full rights.
   */
  caller?: Caller;
}

export type Handler<M extends ClientRequestName> = (
  params: ClientRequests[M]['params'],
  ctx: RequestContext,
) => Promise<ClientRequests[M]['result']> | ClientRequests[M]['result'];

/** One handler per client request: a method of the manifest without a handler fails to compile. */
export type HandlerTable = { [M in ClientRequestName]: Handler<M> };

/** `work`, or its revocation's reason (Unauthorized) as soon as the peer's key is revoked. */
function untilRevoked<T>(work: Promise<T>, revoked: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onRevoke = () => reject(revoked.reason);
    revoked.addEventListener('abort', onRevoke, { once: true });
    work.then(resolve, reject).finally(() => revoked.removeEventListener('abort', onRevoke));
  });
}

/** Params that passed `validateParams` against the method's schema are that method's params type. */
function validated<M extends ClientRequestName>(entry: ClientRequestSpec, params: unknown): asserts params is ClientRequests[M]['params'] {
  validateParams(entry.params, params);
}

/** What the dispatcher needs: a logger, the idempotency cache, the keys to re-check, the session access rules and the server's stopping signal. */
export interface DispatcherDeps {
  log: Logger;
  idempotency: IdempotencyCache;
  keys: Pick<ApiKeys, 'has'>;
  events: Pick<EventLog, 'busy' | 'settled'>;
  /** Every request naming a `sessionId` the caller may not use is NotFound before its handler runs. */
  access: Pick<SessionAccess, 'check'>;
  /** Aborted when shutdown begins: every request but `shutdown` is refused from then on. */
  stopping: AbortSignal;
}

export class Dispatcher {
  /** Check every result against its schema too (tests turn this on with AGENTD_CHECK_RESULTS=1). */
  checkResults = process.env.AGENTD_CHECK_RESULTS === '1';

  constructor(private deps: DispatcherDeps, private handlers: HandlerTable) {}

  async request(method: string, rawParams: unknown, ctx: RequestContext): Promise<unknown> {
    if (!isClientRequest(method)) throw RpcError.methodNotFound(method);
    const work = this.serve(method, rawParams, ctx);
    // A keyed request is answered Unauthorized the moment its key is revoked, also while it still
    // waits on the key or access check (a store query): the connection closes right after, and a
    // request left unanswered there would hang its client.
    return keyIdOf(ctx.peer.principal) === undefined ? work : untilRevoked(work, ctx.peer.revocation.signal);
  }

  private async serve<M extends ClientRequestName>(method: M, rawParams: unknown, given: RequestContext): Promise<unknown> {
    const entry: ClientRequestSpec = methodTable[method];
    const { peer } = given;
    const caller = given.caller ?? peer.caller;
    const ctx: RequestContext = caller === given.caller ? given : { ...given, caller };
    if (method === 'initialize') {
      if (peer.state !== 'new') throw RpcError.invalidRequest('initialize was already sent on this connection');
    } else if (peer.state === 'new') throw RpcError.notInitialized();
    else if (peer.state === 'shutdown') throw RpcError.shuttingDown();
    if (this.deps.stopping.aborted && method !== 'shutdown') throw RpcError.shuttingDown();
    // Keys are checked on every request, not only when the connection was admitted.
    const keyId = keyIdOf(peer.principal);
    if (keyId !== undefined && (peer.revoked || !(await this.deps.keys.has(keyId)))) {
      peer.revoke();
      throw RpcError.unauthorized('the API key was revoked');
    }

    const params = rawParams === undefined || rawParams === null ? {} : rawParams;
    if (Array.isArray(params)) throw RpcError.invalidParams('(params)', 'must be an object (by-name params)');
    // Rights, checked once here for every method: the manifest marks the admin ones (refused before their params are looked at).
    if (caller && entry.admin && !caller.admin) throw RpcError.forbidden(`${method} needs an admin API key (user ${caller.user} has none)`);
    validated<M>(entry, params);
    if (caller) {
      // session/unsubscribe names only this connection's own subscription (of a session perhaps deleted since).
      const sessionId = (params as { sessionId?: unknown }).sessionId;
      if (typeof sessionId === 'string' && method !== 'session/unsubscribe') await this.deps.access.check(sessionId, caller);
    }

    const handler: Handler<M> = this.handlers[method];
    const invoke = async () => {
      try {
        return await handler(params, ctx);
      } catch (err) {
        throw toRpcError(err, method, this.deps.log);
      } finally {
        // Events the request caused reach the client before its response (they are delivered once stored).
        if (this.deps.events.busy) await this.deps.events.settled();
      }
    };
    // Keys are scoped per API key, so one client can never see another's outcome.
    const key = IdempotencyCache.keyOf(params, peer.principal);
    const run = key === undefined ? invoke() : this.deps.idempotency.run(method, key, params, invoke);
    const result = await run;
    if (this.checkResults) {
      const check = matches(entry.result, result);
      if (!check.ok) {
        this.deps.log.error({ method, errors: check.errors }, 'result does not match its schema');
        throw RpcError.internal(method);
      }
    }
    return result;
  }

  /** Client notifications: `initialized` and `exit` are handled by the transport; the rest are ignored as JSON-RPC asks. */
  notification(method: string): void {
    if (!Object.hasOwn(methodTable, method)) this.deps.log.debug({ method }, 'unknown notification ignored');
  }
}
