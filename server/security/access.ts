/**
 * Who may see and drive which session (users and sharing, README "Security model"). A session
 * belongs to the user who created it (`owner`, absent: `default`) and to the users it is shared
 * with (`sharedWith`); both live in the session record. Requests read the record itself; event
 * delivery (checked per event, per subscriber) asks a bounded in-memory cache instead, kept
 * current by observing `session.created` / `session.updated` before any subscriber sees them, on
 * every node (another node's share arrives as its session.updated).
 */
import type { EventLog, PublishedEvent } from '../events/log.js';
import { RpcError } from '../rpc/errors.js';
import type { Store } from '../store/store.js';
import { mayUse, type Caller, type SessionAcl } from './caller.js';

/** Sessions whose access the cache holds; the oldest entry goes first (a miss reads the store). */
const CACHE_SIZE = 20_000;
/** Background reads after delivery misses, at most at once. */
const MAX_LOADING = 64;

export interface SessionAccessDeps {
  store: Pick<Store, 'getSession' | 'pageSessions'>;
  events: Pick<EventLog, 'observe'>;
}

export class SessionAccess {
  private cache = new Map<string, SessionAcl>();
  /** Sessions being read into the cache after a miss at delivery. */
  private loading = new Set<string>();

  constructor(private deps: SessionAccessDeps) {
    deps.events.observe((e) => this.seen(e));
  }

  private seen(e: PublishedEvent) {
    if (e.sessionId === null || (e.type !== 'session.created' && e.type !== 'session.updated')) return;
    const session = (JSON.parse(e.json) as { data?: { session?: SessionAcl } }).data?.session;
    if (session) this.remember(e.sessionId, session);
  }

  private remember(id: string, s: SessionAcl) {
    this.cache.delete(id);
    this.cache.set(id, { owner: s.owner, sharedWith: s.sharedWith });
    if (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value as string);
  }

  /**
   * NotFound, as if it did not exist, when the session exists and the caller may not use it. A
   * session that does not exist is left to the handler, which answers as it always did (its
   * own param checks may come first).
   */
  async check(sessionId: string, caller: Caller | undefined): Promise<void> {
    const rec = await this.deps.store.getSession(sessionId);
    if (!rec) return;
    this.remember(sessionId, rec);
    if (!mayUse(rec, caller)) throw RpcError.notFound('session', sessionId);
  }

  /** Whether the caller may see and drive the session (the cache, else the store; a deleted session's entry stays until evicted). */
  async mayAccess(sessionId: string, caller: Caller | undefined): Promise<boolean> {
    if (!caller) return true;
    let acl = this.cache.get(sessionId);
    if (!acl) {
      const rec = await this.deps.store.getSession(sessionId);
      if (!rec) return false;
      this.remember(sessionId, rec);
      acl = rec;
    }
    return mayUse(acl, caller);
  }

  /**
   * The same, answered at once from the cache (event delivery cannot wait for the store). A session
   * the cache does not hold (more than CACHE_SIZE sessions touched since) is refused this once and
   * read in the background, so its next events pass.
   */
  canSee(sessionId: string, caller: Caller | undefined): boolean {
    if (!caller) return true;
    const acl = this.cache.get(sessionId);
    if (acl) return mayUse(acl, caller);
    if (!this.loading.has(sessionId) && this.loading.size < MAX_LOADING) {
      this.loading.add(sessionId);
      this.deps.store.getSession(sessionId).then((rec) => { if (rec) this.remember(sessionId, rec); }, () => {}).finally(() => this.loading.delete(sessionId));
    }
    return false;
  }

  /** Fills the cache with the newest sessions (at start: the all-sessions stream then rarely misses). */
  async warm(): Promise<void> {
    const page = await this.deps.store.pageSessions(CACHE_SIZE);
    for (const rec of page.sessions.reverse()) if (!this.cache.has(rec.id)) this.remember(rec.id, rec);
  }

  /** The delivery filter of a subscription (none for the local user); server-wide events (no session) pass. */
  filter(caller: Caller | undefined): ((e: PublishedEvent) => boolean) | undefined {
    if (!caller) return undefined;
    return (e) => e.sessionId === null || this.canSee(e.sessionId, caller);
  }
}
