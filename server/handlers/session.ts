/** session/*: thin handlers over SessionService, TurnRunner and the event log. */
import { follow } from '../events/follow.js';
import { RpcError } from '../rpc/errors.js';
import type { HandlerTable } from '../rpc/dispatcher.js';

export const sessionHandlers = {
  'session/create': (p, { core }) => core.sessions.create(p),
  'session/list': (p, { core }) => core.sessions.list(p),
  'session/get': (p, { core }) => core.sessions.get(p.sessionId),
  'session/update': (p, { core }) => core.sessions.update(p),
  'session/messages': (p, { core }) => core.sessions.messages(p),
  'session/fork': (p, { core }) => core.sessions.fork(p),
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
    // A subscription to the same key replaces the earlier one, even while that one still replays.
    peer.subscriptions.get(key)?.();
    const lastSeq = core.events.lastSeq(sessionId);
    const sub = follow(core.events, sessionId, p.since, peer);
    peer.subscriptions.set(key, sub.stop);
    // A peer that closed meanwhile already ran its unsubscribes.
    if (peer.closed) sub.stop();
    // The reply may go out before a long replay finishes; events keep their order on the wire.
    sub.ready.catch((err) => core.log.error({ err, sessionId }, 'event replay failed'));
    // Permissions already pending are asked of this peer too (a reconnecting IDE sees the open
    // question), after this reply.
    if (!peer.closed) setImmediate(() => { if (peer.subscriptions.has(key)) core.approvals.subscribed(peer, sessionId); });
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
