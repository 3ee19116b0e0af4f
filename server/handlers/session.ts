/** session/*: thin handlers over SessionService, TurnRunner and the event log. */
import { follow } from '../events/follow.js';
import { RpcError } from '../rpc/errors.js';
import type { HandlerTable } from '../rpc/dispatcher.js';

export const sessionHandlers = {
  'session/create': (p, { core }) => core.sessions.create(p),
  'session/list': (_p, { core }) => ({ sessions: core.sessions.list() }),
  'session/get': (p, { core }) => core.sessions.get(p.sessionId),
  'session/delete': (p, { core }) => core.sessions.delete(p.sessionId),

  'session/message': async (p, { core, peer, signal, respondAsync }) => {
    const turn = core.turns.start(p.sessionId, p.content);
    if (p.async || respondAsync) return { sessionId: p.sessionId, turnId: turn.turnId, status: 'accepted' as const };
    // Cancelling the request ($/cancelRequest, or the client going away) cancels the turn.
    const onAbort = () => void core.turns.cancel(p.sessionId, 'request cancelled');
    signal.addEventListener('abort', onAbort, { once: true });
    // The caller is interested in this turn's approvals while it waits.
    const unwatch = core.approvals.watch(p.sessionId, peer);
    try {
      return await turn.done;
    } finally {
      unwatch();
      signal.removeEventListener('abort', onAbort);
    }
  },

  'session/cancel': async (p, { core }) => {
    core.sessions.require(p.sessionId);
    const turnId = await core.turns.cancel(p.sessionId);
    return turnId ? { sessionId: p.sessionId, cancelled: true, turnId } : { sessionId: p.sessionId, cancelled: false };
  },

  'session/subscribe': async (p, { core, peer }) => {
    const sessionId = p.sessionId ?? null;
    if (sessionId !== null) core.sessions.require(sessionId);
    const key = sessionId ?? '*';
    const max = core.config.limits().maxSubscriptions;
    if (!peer.subscriptions.has(key) && peer.subscriptions.size >= max) throw RpcError.limit('subscriptions per connection', max);
    peer.subscriptions.get(key)?.();
    const lastSeq = core.events.lastSeq(sessionId);
    // Registered before the replay starts, so a close during the replay still unsubscribes.
    let off: (() => void) | undefined;
    peer.subscriptions.set(key, () => off?.());
    const done = follow(core.events, sessionId, p.since, peer).then((unsubscribe) => {
      off = unsubscribe;
      if (peer.closed || peer.subscriptions.get(key) === undefined) unsubscribe();
    });
    // The reply may go out before a long replay finishes; events keep their order on the wire.
    void done;
    return { subscribed: true, ...(sessionId ? { sessionId } : {}), lastSeq };
  },

  'session/unsubscribe': (p, { peer }) => {
    const key = p.sessionId ?? '*';
    const off = peer.subscriptions.get(key);
    if (!off) return { unsubscribed: false };
    off();
    peer.subscriptions.delete(key);
    return { unsubscribed: true };
  },
} satisfies Partial<HandlerTable>;
