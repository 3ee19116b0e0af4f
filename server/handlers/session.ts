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
import type { SessionAccess } from '../security/access.js';
import { ownerOf } from '../security/caller.js';
import type { ApiKeys } from '../security/keys.js';

export interface SessionHandlerDeps {
  sessions: SessionService;
  turns: Pick<TurnRunner, 'start' | 'cancel'>;
  approvals: Pick<ApprovalService, 'watch' | 'subscribed'>;
  config: Pick<ConfigService, 'limits'>;
  /** MCP resource reads and prompts (a session's own servers first); a deleted session's servers close. */
  sessionMcp: Pick<SessionMcp, 'userContent' | 'drop'>;
  events: EventLog;
  log: Logger;
  /** Which events a subscriber's user may see (the dispatcher already checked `sessionId`). */
  access: Pick<SessionAccess, 'filter'>;
  /** Sharing names a user some key belongs to. */
  keys: Pick<ApiKeys, 'hasUser'>;
}

export const sessionHandlers = ({ sessions, turns, approvals, config, events, log, sessionMcp, access, keys }: SessionHandlerDeps) => ({
  'session/create': (p, { caller }) => sessions.create(p, caller),
  'session/list': (p, { caller }) => sessions.list(p, caller),
  'session/get': (p) => sessions.get(p.sessionId),
  'session/update': (p) => sessions.update(p),
  'session/messages': (p) => sessions.messages(p),
  'session/fork': (p, { caller }) => sessions.fork(p, caller),
  'session/delete': async (p, { caller }) => {
    // Users it is shared with drive it; deleting it is its owner's.
    if (caller && ownerOf(await sessions.require(p.sessionId)) !== caller.user) throw RpcError.forbidden(`only the owner of session ${p.sessionId} deletes it`);
    const r = await sessions.delete(p.sessionId);
    await sessionMcp.drop(p.sessionId);
    return r;
  },

  'session/message': async (p, { peer, signal, respondAsync }) => {
    // MCP resource references are read and a prompt run before the turn starts.
    const needsMcp = p.prompt !== undefined || (Array.isArray(p.content) && p.content.some((x) => x.type === 'resource'));
    if (needsMcp) await sessions.require(p.sessionId);
    const content = needsMcp ? await sessionMcp.userContent(p.sessionId, p, signal) : (p.content as string | Array<TextPart | ImagePart> | undefined);
    if (content === undefined) throw RpcError.invalidParams('content', 'is required unless `prompt` is given');
    const turn = await turns.start(p.sessionId, content);
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
    await sessions.require(p.sessionId);
    const turnId = await turns.cancel(p.sessionId);
    return turnId ? { sessionId: p.sessionId, cancelled: true, turnId } : { sessionId: p.sessionId, cancelled: false };
  },

  'session/share': (p, { caller }) => sessions.share(p, caller, true, (u) => keys.hasUser(u)),
  'session/unshare': (p, { caller }) => sessions.share(p, caller, false, (u) => keys.hasUser(u)),

  'session/subscribe': async (p, { peer, caller }) => {
    const sessionId = p.sessionId ?? null;
    if (sessionId !== null) await sessions.require(sessionId);
    const key = sessionId ?? '*';
    const max = config.limits().maxSubscriptions;
    if (!peer.subscriptions.has(key) && peer.subscriptions.size >= max) throw RpcError.limit('subscriptions per connection', max);
    // A subscription to the same key replaces the earlier one, even while that one still replays.
    peer.subscriptions.get(key)?.();
    // Each event is checked at delivery: a session unshared meanwhile stops reaching this user.
    const sub = follow(events, sessionId, p.since, peer, access.filter(caller));
    peer.subscriptions.set(key, sub.stop);
    // A peer that closed meanwhile already ran its unsubscribes.
    if (peer.closed) sub.stop();
    // The reply may go out before a long replay finishes; events keep their order on the wire.
    sub.ready.catch((err) => log.error({ err, sessionId }, 'event replay failed'));
    // The reply follows the first replayed page (or, live only, says where the live events start).
    const lastSeq = p.since === undefined ? await sub.started : await events.lastSeq(sessionId);
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
