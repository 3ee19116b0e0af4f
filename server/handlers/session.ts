/** session/*: thin handlers over SessionService, TurnRunner and the event log. */
import type { ImagePart, TextPart } from '../../protocol/index.js';
import { follow } from '../events/follow.js';
import { RpcError } from '../rpc/errors.js';
import type { HandlerTable } from '../rpc/dispatcher.js';
import type { ApprovalService } from '../approval/service.js';
import type { ConfigService } from '../config/service.js';
import type { EventLog } from '../events/log.js';
import type { Logger } from '../log.js';
import type { SessionService } from '../session/service.js';
import type { SessionMcp } from '../mcp/session.js';
import type { TurnRunner } from '../turn/runner.js';

export interface SessionHandlerDeps {
  sessions: SessionService;
  turns: Pick<TurnRunner, 'start' | 'cancel'>;
  approvals: Pick<ApprovalService, 'watch' | 'subscribed'>;
  config: Pick<ConfigService, 'limits'>;
  /** MCP resource reads and prompts (a session's own servers first); a deleted session's servers close. */
  sessionMcp: Pick<SessionMcp, 'userContent' | 'drop'>;
  events: EventLog;
  log: Logger;
}

export const sessionHandlers = ({ sessions, turns, approvals, config, events, log, sessionMcp }: SessionHandlerDeps) => ({
  'session/create': (p) => sessions.create(p),
  'session/list': (p) => sessions.list(p),
  'session/get': (p) => sessions.get(p.sessionId),
  'session/update': (p) => sessions.update(p),
  'session/messages': (p) => sessions.messages(p),
  'session/fork': (p) => sessions.fork(p),
  'session/delete': async (p) => {
    const r = await sessions.delete(p.sessionId);
    await sessionMcp.drop(p.sessionId);
    return r;
  },

  'session/message': async (p, { peer, signal, respondAsync }) => {
    // MCP resource references are read and a prompt run before the turn starts.
    const needsMcp = p.prompt !== undefined || (Array.isArray(p.content) && p.content.some((x) => x.type === 'resource'));
    if (needsMcp) sessions.require(p.sessionId);
    const content = needsMcp ? await sessionMcp.userContent(p.sessionId, p, signal) : (p.content as string | Array<TextPart | ImagePart> | undefined);
    if (content === undefined) throw RpcError.invalidParams('content', 'is required unless `prompt` is given');
    const turn = turns.start(p.sessionId, content);
    if (p.async || respondAsync) return { sessionId: p.sessionId, turnId: turn.turnId, status: 'accepted' as const };
    // Cancelling the request ($/cancelRequest, or the client going away) cancels the turn.
    const onAbort = () => void turns.cancel(p.sessionId, 'request cancelled');
    signal.addEventListener('abort', onAbort, { once: true });
    // The caller is interested in this turn's approvals while it waits.
    const unwatch = approvals.watch(p.sessionId, peer);
    try {
      return await turn.done;
    } finally {
      unwatch();
      signal.removeEventListener('abort', onAbort);
    }
  },

  'session/cancel': async (p) => {
    sessions.require(p.sessionId);
    const turnId = await turns.cancel(p.sessionId);
    return turnId ? { sessionId: p.sessionId, cancelled: true, turnId } : { sessionId: p.sessionId, cancelled: false };
  },

  'session/subscribe': async (p, { peer }) => {
    const sessionId = p.sessionId ?? null;
    if (sessionId !== null) sessions.require(sessionId);
    const key = sessionId ?? '*';
    const max = config.limits().maxSubscriptions;
    if (!peer.subscriptions.has(key) && peer.subscriptions.size >= max) throw RpcError.limit('subscriptions per connection', max);
    // A subscription to the same key replaces the earlier one, even while that one still replays.
    peer.subscriptions.get(key)?.();
    const lastSeq = events.lastSeq(sessionId);
    const sub = follow(events, sessionId, p.since, peer);
    peer.subscriptions.set(key, sub.stop);
    // A peer that closed meanwhile already ran its unsubscribes.
    if (peer.closed) sub.stop();
    // The reply may go out before a long replay finishes; events keep their order on the wire.
    sub.ready.catch((err) => log.error({ err, sessionId }, 'event replay failed'));
    // Permissions already pending are asked of this peer too (a reconnecting IDE sees the open
    // question), after this reply.
    if (!peer.closed) setImmediate(() => { if (peer.subscriptions.has(key)) approvals.subscribed(peer, sessionId); });
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
}) satisfies Partial<HandlerTable>;
