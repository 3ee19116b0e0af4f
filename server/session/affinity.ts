/**
 * Session affinity (`store.affinity: true` on a shared store), for nodes whose workspaces are
 * their own disks: a session belongs to the node that created it. The record is in the kv table
 * (namespace `affinity`, key the session id, value `{ node, url? }`). On any other node, the
 * requests that need the session's workspace or its home node's own state of it (AFFINE_METHODS:
 * turns, snapshots, the session's MCP servers, an editor serving its files) are refused with
 * WrongNode, naming the home node and its advertised URL (`store.nodeUrl`).
 *
 * A node is its URL when it advertises one (that survives its restarts), else its node id. A
 * session without a record (made before affinity was turned on) belongs to the first node that
 * drives it; so does one whose home advertised no URL and holds no lease any more (gone, or
 * restarted under a new id): nobody could reach that node again.
 */
import type { Handler, HandlerTable } from '../rpc/dispatcher.js';
import { RpcError } from '../rpc/errors.js';
import type { Cluster, Store } from '../store/store.js';

/** The requests that run where the session's workspace is. */
export const AFFINE_METHODS = ['session/message', 'session/diff', 'session/revert', 'session/unrevert', 'session/mcp', 'session/files'] as const;
type AffineMethod = (typeof AFFINE_METHODS)[number];

const NS = 'affinity';

/** Where a session belongs. */
interface Home { node: number; url?: string }

export interface SessionAffinityDeps {
  store: Pick<Store, 'kvGet' | 'kvInsert' | 'kvDelete' | 'getSession'>;
  cluster: Pick<Cluster, 'nodeId' | 'ownerAlive'>;
  /** This node's advertised address (`store.nodeUrl`). */
  nodeUrl?: string;
}

export class SessionAffinity {
  private readonly self: Home;

  constructor(private deps: SessionAffinityDeps) {
    this.self = { node: deps.cluster.nodeId, ...(deps.nodeUrl ? { url: deps.nodeUrl } : {}) };
  }

  /** Records this node as the session's home (it was just created here); false when it has one already. */
  claim(sessionId: string): Promise<boolean> {
    return this.deps.store.kvInsert(NS, sessionId, JSON.stringify(this.self));
  }

  /** Throws WrongNode unless the session belongs here (or does not exist: its handler answers NotFound). */
  async check(sessionId: string): Promise<void> {
    const { store, cluster } = this.deps;
    let home = await this.homeOf(sessionId);
    if (home === undefined) {
      // No record: the first node to drive it (one insert wins), unless it does not exist.
      if (!(await store.getSession(sessionId)) || (await this.claim(sessionId))) return;
      home = await this.homeOf(sessionId);
    } else if (!this.isSelf(home) && home.url === undefined && !(await cluster.ownerAlive(home.node))) {
      // Unreachable for good: taken over by the first node that drives it (delete, then one claim wins).
      await store.kvDelete(NS, sessionId);
      if (await this.claim(sessionId)) return;
      home = await this.homeOf(sessionId);
    }
    if (home !== undefined && !this.isSelf(home)) throw RpcError.wrongNode(sessionId, home.node, home.url);
  }

  private async homeOf(sessionId: string): Promise<Home | undefined> {
    const raw = await this.deps.store.kvGet(NS, sessionId);
    return raw === undefined ? undefined : (JSON.parse(raw) as Home);
  }

  private isSelf(home: Home): boolean {
    return home.node === this.self.node || (home.url !== undefined && home.url === this.self.url);
  }

  forget(sessionId: string): Promise<void> {
    return this.deps.store.kvDelete(NS, sessionId);
  }

  /** The handler table with affinity: the affine methods check first; create and fork record this node; delete forgets. */
  guard(table: HandlerTable): HandlerTable {
    const out: HandlerTable = { ...table };
    const checked = <M extends AffineMethod>(method: M) => {
      const inner = table[method] as Handler<M>;
      out[method] = (async (params, ctx) => {
        await this.check((params as { sessionId: string }).sessionId);
        return inner(params, ctx);
      }) as Handler<M> as HandlerTable[M];
    };
    for (const method of AFFINE_METHODS) checked(method);
    out['session/create'] = async (params, ctx) => {
      const s = await table['session/create'](params, ctx);
      await this.claim(s.id);
      return s;
    };
    out['session/fork'] = async (params, ctx) => {
      const s = await table['session/fork'](params, ctx);
      await this.claim(s.id);
      return s;
    };
    out['session/delete'] = async (params, ctx) => {
      const r = await table['session/delete'](params, ctx);
      await this.forget(params.sessionId);
      return r;
    };
    return out;
  }
}
