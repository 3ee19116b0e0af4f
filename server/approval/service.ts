/**
 * Pending approvals. An `ask` decision becomes a permission: a `permission.requested` event
 * (every subscriber, REST included, sees it), a `permission/request` server-to-client request to
 * each interested JSON-RPC client that declared `capabilities.permissionRequests`, and a wait
 * for the first answer (that request's reply or `tool/approve`). The first answer wins and is
 * announced as `permission.resolved`; later `tool/approve` calls get a Conflict, and the other
 * clients' `permission/request` calls are cancelled ($/cancelRequest).
 *
 * Interested clients: peers subscribed to the session (or to all events) and peers waiting on a
 * `session/message` of that session. A client that subscribes while a permission is pending (a
 * reconnecting IDE) becomes interested and receives its `permission/request` then. No answer within the timeout denies (`timeout`); the last
 * interested client disconnecting denies (`no client`); cancelling the turn denies (`cancelled`).
 *
 * Several nodes on one database: the first answer is claimed in the kv table (one insert wins),
 * whichever node it reaches, and every node holds the permissions of other nodes' turns it learns
 * of from their `permission.requested` events: its clients see them in permission/list, get their
 * permission/request, and answer them with tool/approve; the winning node tells the turn's node
 * (a cluster command), which settles with the claimed answer.
 */
import type { PendingPermission, PermissionAnswerer, PermissionDecision, PermissionRequestParams, PermissionRequestResult } from '../../protocol/index.js';
import type { EventLog, PublishedEvent } from '../events/log.js';
import type { ClusterCommand, Store } from '../store/store.js';
import type { Logger } from '../log.js';
import { RpcError } from '../rpc/errors.js';
import type { Peer } from '../rpc/peer.js';
import { matches } from '../rpc/validate.js';
import { newId, now } from '../session/ids.js';

export interface Answer {
  decision: PermissionDecision;
  reason?: string;
  /** Set when the server decided (timeout, no client, cancelled) rather than a user. */
  automatic?: boolean;
  /** Who answered (permission.resolved `by`); the server when automatic. */
  by?: PermissionAnswerer;
}

/** The answerer record of a client connection. */
export const answerer = (peer: Peer, via: 'permission/request' | 'tool/approve'): PermissionAnswerer => ({
  type: 'client', via, transport: peer.transport, ...(peer.clientInfo?.name ? { clientName: peer.clientInfo.name } : {}), connectionId: peer.id,
});

export interface PermissionAsk {
  sessionId: string;
  turnId: string;
  callId: string;
  tool: string;
  input: Record<string, unknown>;
  summary: string;
  timeoutMs: number;
  /** Aborted when the turn is cancelled. */
  signal: AbortSignal;
}

interface Pending extends PermissionAsk {
  /** A permission of a turn on another node (known from its event): the owner decides timeouts and disconnects. */
  remote?: boolean;
  id: string;
  requestedAt: string;
  /** Peers a permission/request went to (each gets at most one). */
  asked: Set<Peer>;
  /** Settles with the first answer (across nodes: the claimed one); true when `answer` was it. Omitted: the one claimed elsewhere. */
  settle(answer?: Answer): Promise<boolean>;
  /** Set while a settle claims the answer: a second answer meanwhile does not count. */
  settling?: boolean;
  /** Cancels the permission/request calls still out. */
  requests: AbortController;
  interested: Set<Peer>;
}

const KEEP_RESOLVED = 10_000;

/** kv namespace of the claimed answers (several nodes). */
const ANSWERS = 'permission-answer';
/**
 * How long a claimed answer is kept. It is read only in the moments after the answer (a second
 * node answering the same permission; the turn's node settling), so a day is ample.
 */
export const ANSWER_TTL_MS = 24 * 60 * 60 * 1000;

/** What the service needs of a store shared by several nodes. */
export interface ApprovalCluster {
  readonly nodeId: number;
  store: Pick<Store, 'kvInsert' | 'kvGet' | 'kvList' | 'kvDelete' | 'getSession'>;
  command(node: number, body: ClusterCommand): Promise<void>;
}

export interface ApprovalServiceDeps {
  events: EventLog;
  log: Logger;
  /** The connections the server tracks (stdio, WebSocket; a REST request is not among them). */
  peers: ReadonlySet<Peer>;
  /** Whether a peer's user may drive the session (only those are asked, and only their answers count). Default: all. */
  mayDrive?: (peer: Peer, sessionId: string) => boolean;
  /** Set when several nodes share the store. */
  cluster?: ApprovalCluster;
}

export class ApprovalService {
  private pending = new Map<string, Pending>();
  private resolved = new Map<string, Answer & { tool: string; sessionId: string }>();
  private watchers = new Map<string, Set<Peer>>();

  constructor(private deps: ApprovalServiceDeps) {
    if (deps.cluster) deps.events.observe((e) => this.observed(e));
  }

  /** The first answer of a permission across nodes: ours when the insert wins, else the stored one. */
  private async claim(id: string, sessionId: string, answer?: Answer): Promise<{ answer?: Answer; won: boolean }> {
    const c = this.deps.cluster;
    if (!c) return { answer, won: answer !== undefined };
    if (answer && (await c.store.kvInsert(ANSWERS, id, JSON.stringify({ sessionId, answer, at: Date.now() })))) return { answer, won: true };
    const stored = await c.store.kvGet(ANSWERS, id);
    try {
      return { answer: stored === undefined ? undefined : (JSON.parse(stored) as { answer: Answer }).answer, won: false };
    } catch {
      return { won: false };
    }
  }

  /** Drops the claimed answers older than ANSWER_TTL_MS (and unreadable ones); the count dropped. */
  async prune(nowMs = Date.now()): Promise<number> {
    const store = this.deps.cluster?.store;
    if (!store) return 0;
    let n = 0;
    for (const { key, value } of await store.kvList(ANSWERS)) {
      let at = 0;
      try { at = Number((JSON.parse(value) as { at?: number }).at) || 0; } catch { /* unreadable: drop */ }
      if (!(nowMs - at < ANSWER_TTL_MS)) { await store.kvDelete(ANSWERS, key); n++; }
    }
    return n;
  }

  /** Another node's permission events: hold its pending permissions here, drop them once resolved. */
  private observed(e: PublishedEvent) {
    if (e.sessionId === null || (e.type !== 'permission.requested' && e.type !== 'permission.resolved')) return;
    const sessionId = e.sessionId;
    let ev: { time: string; data: PermissionRequestParams & { decision?: PermissionDecision; reason?: string } };
    try { ev = JSON.parse(e.json); } catch { return; }
    const d = ev.data;
    const known = this.pending.get(d.permissionId);
    if (e.type === 'permission.resolved') {
      if (known?.remote) this.dropRemote(known, { decision: d.decision ?? 'deny', ...(d.reason ? { reason: d.reason } : {}) });
      return;
    }
    if (known || this.resolved.has(d.permissionId)) return; // ours (set before its event is appended), or done
    const id = d.permissionId;
    const remote: Pending = {
      sessionId, turnId: d.turnId ?? '', callId: d.callId, tool: d.tool, input: d.input, summary: d.summary, timeoutMs: 0,
      signal: new AbortController().signal, id, requestedAt: ev.time, asked: new Set(), requests: new AbortController(),
      interested: new Set(this.interestedPeers(sessionId)), remote: true,
      settle: async (answer) => {
        if (this.pending.get(id) !== remote || remote.settling) return false;
        remote.settling = true;
        try {
          const c = await this.claim(id, sessionId, answer);
          if (c.won) {
            const owner = (await this.deps.cluster!.store.getSession(sessionId))?.ownerPid;
            if (owner) await this.deps.cluster!.command(owner, { op: 'permission', permissionId: id });
          }
          if (c.answer) this.dropRemote(remote, c.answer);
          return c.won;
        } finally {
          remote.settling = false;
        }
      },
    };
    this.pending.set(id, remote);
    for (const peer of remote.interested) this.send(remote, peer);
  }

  private dropRemote(p: Pending, answer: Answer) {
    if (this.pending.get(p.id) !== p) return;
    this.pending.delete(p.id);
    p.requests.abort();
    this.remember(p.id, { ...answer, tool: p.tool, sessionId: p.sessionId });
  }

  /** A cluster command: a permission of a turn here was answered on another node; settle with that answer. */
  answeredElsewhere(permissionId: string): void {
    const p = this.pending.get(permissionId);
    if (p && !p.remote) void p.settle();
  }

  /** Marks a peer as interested in a session's approvals while it waits on a turn. */
  watch(sessionId: string, peer: Peer): () => void {
    let set = this.watchers.get(sessionId);
    if (!set) this.watchers.set(sessionId, (set = new Set()));
    set.add(peer);
    // A one-request peer (REST) is not tracked by the core: learn of its end here.
    if (!this.deps.peers.has(peer)) peer.onClose(() => this.peerClosed(peer));
    return () => {
      set.delete(peer);
      if (set.size === 0 && this.watchers.get(sessionId) === set) this.watchers.delete(sessionId);
    };
  }

  /** permission/list: what waits for an answer, oldest first. */
  list(sessionId?: string): PendingPermission[] {
    return [...this.pending.values()].filter((p) => sessionId === undefined || p.sessionId === sessionId).map((p) => ({
      permissionId: p.id, sessionId: p.sessionId, turnId: p.turnId, callId: p.callId, tool: p.tool, input: p.input, summary: p.summary, requestedAt: p.requestedAt,
    }));
  }

  /**
   * A peer subscribed to a session (or to all, `null`): it is now interested in that session's
   * pending permissions, and one that takes permission requests is asked each of them.
   */
  subscribed(peer: Peer, sessionId: string | null): void {
    for (const p of [...this.pending.values()]) {
      if (sessionId !== null && p.sessionId !== sessionId) continue;
      if (!this.mayDrive(peer, p.sessionId)) continue;
      p.interested.add(peer);
      this.send(p, peer);
    }
  }

  private mayDrive(peer: Peer, sessionId: string): boolean {
    return this.deps.mayDrive?.(peer, sessionId) ?? true;
  }

  private interestedPeers(sessionId: string): Peer[] {
    const out = new Set([...this.deps.peers].filter((p) => p.state === 'initialized' && (p.subscriptions.has(sessionId) || p.subscriptions.has('*'))));
    for (const p of this.watchers.get(sessionId) ?? []) out.add(p);
    return [...out].filter((p) => !p.closed && this.mayDrive(p, sessionId));
  }

  /** Called by the core whenever a peer goes away. */
  peerClosed(peer: Peer): void {
    for (const [sessionId, set] of this.watchers) {
      set.delete(peer);
      if (set.size === 0) this.watchers.delete(sessionId);
    }
    for (const p of [...this.pending.values()]) {
      const wasInterested = p.interested.delete(peer);
      for (const other of this.interestedPeers(p.sessionId)) p.interested.add(other);
      if (wasInterested && p.interested.size === 0 && !p.remote) void p.settle({ decision: 'deny', reason: 'no client', automatic: true });
    }
  }

  /** Waits for an answer; always resolves (timeouts, disconnects and cancels are denials). */
  ask(a: PermissionAsk): Promise<Answer> {
    const id = newId('perm');
    const { events, log } = this.deps;
    return new Promise<Answer>((resolve) => {
      const timer = setTimeout(() => void pending.settle({ decision: 'deny', reason: 'timeout', automatic: true }), a.timeoutMs);
      const onAbort = () => void pending.settle({ decision: 'deny', reason: 'cancelled', automatic: true });
      const pending: Pending = {
        ...a, id, requestedAt: now(), asked: new Set(), requests: new AbortController(), interested: new Set(this.interestedPeers(a.sessionId)),
        settle: async (offered) => {
          if (this.pending.get(id) !== pending || pending.settling) return false;
          pending.settling = true;
          let claimed: { answer?: Answer; won: boolean };
          try {
            claimed = await this.claim(id, a.sessionId, offered);
          } catch (err) {
            log.error({ err: String(err), permissionId: id }, 'claiming the answer failed');
            claimed = { won: false };
          } finally {
            pending.settling = false;
          }
          const { answer, won } = claimed;
          if (!answer || this.pending.get(id) !== pending) return false;
          this.pending.delete(id);
          clearTimeout(timer);
          a.signal.removeEventListener('abort', onAbort);
          pending.requests.abort();
          this.remember(id, { ...answer, tool: a.tool, sessionId: a.sessionId });
          events.append(a.sessionId, 'permission.resolved', {
            permissionId: id, callId: a.callId, tool: a.tool, decision: answer.decision, ...(answer.reason ? { reason: answer.reason } : {}),
            by: answer.automatic ? { type: 'server' } : answer.by ?? { type: 'client' },
          });
          resolve(answer);
          return won;
        },
      };
      this.pending.set(id, pending);
      const requested = events.append(a.sessionId, 'permission.requested', {
        permissionId: id, turnId: a.turnId, callId: a.callId, tool: a.tool, input: a.input, summary: a.summary,
      });
      if (a.signal.aborted) return onAbort();
      a.signal.addEventListener('abort', onAbort, { once: true });
      // The event first, then the requests: a client sees permission.requested before it is asked.
      void requested.then(() => { for (const peer of pending.interested) this.send(pending, peer); });
    });
  }

  /** Sends a pending permission's permission/request to a peer that takes them, once; the first reply answers it. */
  private send(pending: Pending, peer: Peer) {
    if (!peer.capabilities.permissionRequests || !peer.request || peer.closed || pending.asked.has(peer) || !this.pending.has(pending.id)) return;
    pending.asked.add(peer);
    const { log } = this.deps;
    const params: PermissionRequestParams = {
      sessionId: pending.sessionId, permissionId: pending.id, turnId: pending.turnId, callId: pending.callId, tool: pending.tool, input: pending.input, summary: pending.summary,
    };
    peer.request('permission/request', params, pending.requests.signal).then((result) => {
      // Access taken away (session/unshare) while the question was out: that answer does not count.
      if (!this.mayDrive(peer, pending.sessionId)) {
        log.debug({ peer: peer.id }, 'permission/request reply from a client that may no longer drive the session: ignored');
        return;
      }
      const check = matches('PermissionRequestResult', result);
      if (!check.ok) {
        // A reply that cannot be understood denies at once rather than waiting for the timeout.
        log.warn({ peer: peer.id, errors: check.errors }, 'invalid permission/request reply: denied');
        void pending.settle({ decision: 'deny', reason: `invalid reply from the client to permission/request: ${String(check.errors).slice(0, 300)}`, automatic: true });
        return;
      }
      // Fields the server does not know are ignored (a newer client); only these two count.
      const r = result as PermissionRequestResult;
      void pending.settle({ decision: r.decision, ...(r.reason ? { reason: r.reason } : {}), by: answerer(peer, 'permission/request') });
    }, (err: unknown) => {
      if (!pending.requests.signal.aborted) log.debug({ peer: peer.id, err: String(err) }, 'permission/request failed');
    });
  }

  private remember(id: string, answer: Answer & { tool: string; sessionId: string }) {
    this.resolved.set(id, answer);
    if (this.resolved.size > KEEP_RESOLVED) this.resolved.delete(this.resolved.keys().next().value as string);
  }

  /**
   * Recovery step (server/session/recovery.ts): a turn whose process died may have left
   * approvals pending; each is denied with reason `server restart` (a `permission.resolved`
   * event), and a later `tool/approve` of it is a Conflict.
   */
  async recoverTurn(sessionId: string, turnId: string): Promise<void> {
    const open = new Map<string, { callId: string; tool: string }>();
    await this.deps.events.settled();
    for await (const page of this.deps.events.pages(sessionId, 0)) {
      for (const e of page) {
        if (e.type !== 'permission.requested' && e.type !== 'permission.resolved') continue;
        const data = (JSON.parse(e.json) as { data: { permissionId: string; turnId?: string; callId: string; tool: string } }).data;
        if (e.type === 'permission.requested' && data.turnId === turnId) open.set(data.permissionId, { callId: data.callId, tool: data.tool });
        else open.delete(data.permissionId);
      }
    }
    for (const [permissionId, p] of open) {
      if (this.pending.has(permissionId)) continue;
      await this.claim(permissionId, sessionId, { decision: 'deny', reason: 'server restart', automatic: true });
      this.remember(permissionId, { decision: 'deny', reason: 'server restart', automatic: true, tool: p.tool, sessionId });
      void this.deps.events.append(sessionId, 'permission.resolved', { permissionId, callId: p.callId, tool: p.tool, decision: 'deny', reason: 'server restart', by: { type: 'server' } });
    }
  }

  /**
   * `tool/approve`: answers a pending permission; Conflict when it was already answered.
   * `allowed`: whether the caller may drive the permission's session; one it may not is NotFound, as if it did not exist.
   */
  async answer(permissionId: string, answer: Answer, toolName?: string, allowed?: (sessionId: string) => Promise<boolean>): Promise<{ permissionId: string; decision: PermissionDecision }> {
    const p = this.pending.get(permissionId);
    if (p && allowed && !(await allowed(p.sessionId))) throw RpcError.notFound('permission', permissionId);
    if (!p) {
      const done = this.resolved.get(permissionId);
      if (done && allowed && !(await allowed(done.sessionId))) throw RpcError.notFound('permission', permissionId);
      if (done) throw alreadyResolved(permissionId, done);
      throw RpcError.notFound('permission', permissionId);
    }
    if (toolName !== undefined && toolName !== p.tool) {
      throw RpcError.invalidParams('toolName', `does not match the pending call's tool (${p.tool})`);
    }
    // Another node's answer got there first: a Conflict, as a second answer here.
    if (!(await p.settle(answer))) throw alreadyResolved(permissionId, this.resolved.get(permissionId) ?? answer);
    return { permissionId, decision: answer.decision };
  }
}

const alreadyResolved = (permissionId: string, done: Answer) =>
  RpcError.conflict(`permission ${permissionId} was already resolved (${done.decision})`, {
    permissionId, decision: done.decision, ...(done.reason ? { reason: done.reason } : {}),
  });
