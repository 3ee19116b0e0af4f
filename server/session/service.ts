/** Session lifecycle: create, list, get, update, fork, delete, each with its event; message pages. */
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import type {
  Message, Session, SessionCreateParams, SessionForkParams, SessionGetResult, SessionListParams, SessionListResult,
  SessionMessagesParams, SessionMessagesResult, SessionShareParams, SessionShareResult, SessionUpdateParams,
} from '../../protocol/index.js';
import { mayUse, ownerOf, type Caller } from '../security/caller.js';
import type { ConfigService } from '../config/service.js';
import type { EventLog } from '../events/log.js';
import { configuredIds, modelFacts, type ModelFacts } from '../provider/models.js';
import type { ProviderRegistry } from '../provider/registry.js';
import { RpcError } from '../rpc/errors.js';
import type { SessionKey, SessionRecord, Store } from '../store/store.js';
import { newId, now } from './ids.js';

/** session/get's page: the newest this many messages. */
const GET_MESSAGES = 50;
const DEFAULT_PAGE = 50;
const DEFAULT_LIST = 100;
/** Sessions a page of session/list looks at for a user's visible ones before it returns the page short (with a cursor). */
const LIST_SCAN = 5000;
/** Users a session may be shared with. */
const MAX_SHARED = 100;

const encodeCursor = (k: SessionKey) => Buffer.from(JSON.stringify([k.updatedAt, k.id])).toString('base64url');
function decodeCursor(c: string): SessionKey {
  try {
    const v: unknown = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') return { updatedAt: v[0], id: v[1] };
  } catch { /* fall through */ }
  throw RpcError.invalidParams('cursor', 'is not a cursor this server returned');
}

/** Price and context window of a model: config `providers.<id>.models` over the shipped table. */
export function factsOf(config: Pick<ConfigService, 'get'>, providerId: string, model: string): ModelFacts {
  return modelFacts(providerId, model, config.get().providers?.[providerId]?.models);
}

/** The protocol view of a stored session. */
export async function sessionView(deps: { events: Pick<EventLog, 'lastSeq'>; config: Pick<ConfigService, 'get'> }, rec: SessionRecord): Promise<Session> {
  const { ownerPid: _owner, ...session } = rec;
  return {
    ...session,
    // Sessions stored before usage was tracked read as zero.
    usage: { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheCreationInputTokens: 0, ...rec.usage },
    costUsd: rec.costUsd ?? null,
    context: { usedTokens: rec.context?.usedTokens ?? 0, windowTokens: factsOf(deps.config, rec.provider, rec.model).contextWindow ?? null },
    lastSeq: await deps.events.lastSeq(rec.id),
  };
}

/** The stored session, or NotFound. */
export async function requireSession(store: Pick<Store, 'getSession'>, id: string): Promise<SessionRecord> {
  const rec = await store.getSession(id);
  if (!rec) throw RpcError.notFound('session', id);
  return rec;
}

export interface SessionServiceDeps {
  store: Store;
  events: EventLog;
  config: Pick<ConfigService, 'defaultProvider' | 'get'>;
  providers: Pick<ProviderRegistry, 'get' | 'has' | 'ready' | 'ids'>;
  /** Base of relative workspace roots. */
  cwd: string;
  /** Deleting a running session cancels its turn first. */
  turns: { cancel(sessionId: string, reason?: string): Promise<unknown> };
  /** A deleted session's snapshot records go with it. */
  snapshots: { forget(sessionId: string): Promise<void> };
}

export class SessionService {
  constructor(private deps: SessionServiceDeps) {}

  /** The protocol view of a stored session. */
  view(rec: SessionRecord): Promise<Session> {
    return sessionView(this.deps, rec);
  }

  /** Models a session may switch to: those the provider lists and those the config names. */
  private knownModels(providerId: string): Set<string> {
    return new Set([...this.deps.providers.get(providerId).info().models, ...configuredIds(this.deps.config.get().providers?.[providerId]?.models)]);
  }

  private defaultModel(providerId: string): string {
    return (providerId === this.deps.config.defaultProvider() ? this.deps.config.get().defaultModel : undefined)
      ?? this.deps.config.get().providers?.[providerId]?.defaultModel
      ?? this.deps.providers.get(providerId).info().defaultModel;
  }

  /** The stored session, or NotFound. */
  require(id: string): Promise<SessionRecord> {
    return requireSession(this.deps.store, id);
  }

  /** `caller`: its user owns the session (none: the local user's sessions have no owner, i.e. `default`). */
  async create(p: SessionCreateParams, caller?: Caller): Promise<Session> {
    const providerId = p.provider ?? this.deps.config.defaultProvider();
    // Local servers found at start count as configured: wait for that look (it has a short timeout).
    if (!this.deps.providers.has(providerId)) await this.deps.providers.ready();
    if (!this.deps.providers.has(providerId)) throw RpcError.invalidParams('provider', `names no provider: ${providerId} (known: ${this.deps.providers.ids().join(', ')})`);
    const provider = this.deps.providers.get(providerId);
    const root = this.workspace(p.workspaceRoot ?? this.deps.cwd);
    const model = p.model ?? (providerId === this.deps.config.defaultProvider() ? this.deps.config.get().defaultModel : undefined) ?? provider.info().defaultModel;
    if (!model) throw RpcError.invalidParams('model', `is required: provider ${providerId} lists no models (its endpoint gave none and none are configured)`);
    if (provider.checkModel && !(await provider.checkModel(model))) {
      const known = provider.info().models;
      throw RpcError.invalidParams('model', `names no model of provider ${providerId}: ${model} (known: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', ...' : ''})`);
    }
    const t = now();
    const rec: SessionRecord = {
      id: newId('ses'),
      name: p.name ?? 'session',
      provider: providerId,
      model,
      workspaceRoot: root,
      status: 'idle',
      activeTurnId: null,
      createdAt: t,
      updatedAt: t,
      ...(p.policy ? { policy: p.policy } : {}),
      ...(caller ? { owner: caller.user } : {}),
    };
    await this.deps.store.insertSession(rec);
    const session = await this.view(rec);
    void this.deps.events.append(rec.id, 'session.created', { session: { ...session, lastSeq: 1 } });
    return { ...session, lastSeq: 1 };
  }

  private workspace(dir: string): string {
    const abs = resolve(this.deps.cwd, dir);
    // A relative root is relative to the server's directory and may not climb out of it.
    if (!isAbsolute(dir) && relative(this.deps.cwd, abs).startsWith('..')) {
      throw RpcError.invalidParams('workspaceRoot', 'must not escape the server directory (give an absolute path)');
    }
    try {
      if (!statSync(abs).isDirectory()) throw new Error('not a directory');
      return realpathSync(abs);
    } catch {
      throw RpcError.invalidParams('workspaceRoot', 'must name an existing directory');
    }
  }

  /**
   * A page of the sessions the caller may see. For a user (not the local one) the store's pages
   * are filtered; at most LIST_SCAN sessions are looked at per page, so a page may come back
   * short, even empty, with a `nextCursor`.
   */
  async list(p: SessionListParams = {}, caller?: Caller): Promise<SessionListResult> {
    const limit = p.limit ?? DEFAULT_LIST;
    let after = p.cursor === undefined ? undefined : decodeCursor(p.cursor);
    if (!caller) {
      const page = await this.deps.store.pageSessions(limit, after, p.search);
      return { sessions: await Promise.all(page.sessions.map((r) => this.view(r))), nextCursor: page.next ? encodeCursor(page.next) : null };
    }
    const out: SessionRecord[] = [];
    let next: SessionKey | null = null;
    for (let scanned = 0; ;) {
      const page = await this.deps.store.pageSessions(limit, after, p.search);
      let i = 0;
      for (; i < page.sessions.length && out.length < limit; i++) if (mayUse(page.sessions[i], caller)) out.push(page.sessions[i]);
      scanned += i;
      if (out.length === limit) {
        const last = out[out.length - 1];
        next = i < page.sessions.length || page.next ? { updatedAt: last.updatedAt, id: last.id } : null;
        break;
      }
      if (!page.next) break;
      after = page.next;
      if (scanned >= LIST_SCAN) { next = page.next; break; }
    }
    return { sessions: await Promise.all(out.map((r) => this.view(r))), nextCursor: next ? encodeCursor(next) : null };
  }

  /**
   * session/share (`add`) and session/unshare: only the owner (or the local user) changes who
   * else may use a session. Sharing names a user some API key belongs to (`userExists`), never
   * the owner; emits session.updated (`changed: ['sharedWith']`) when the list changed.
   */
  async share(p: SessionShareParams, caller: Caller | undefined, add: boolean, userExists: (user: string) => Promise<boolean>): Promise<SessionShareResult> {
    const cur = await this.require(p.sessionId);
    const owner = ownerOf(cur);
    if (caller && caller.user !== owner) throw RpcError.forbidden(`only the owner of session ${p.sessionId} changes whom it is shared with`);
    if (p.user === owner) throw RpcError.invalidParams('user', `is the session's owner (${owner}): the owner always has access`);
    if (add && !(await userExists(p.user))) throw RpcError.notFound('user', p.user);
    let full = false;
    let changed = false;
    const stored = await this.deps.store.patchSession(p.sessionId, (rec) => {
      const list = rec.sharedWith ?? [];
      const has = list.includes(p.user);
      if (add === has) return undefined;
      if (add && list.length >= MAX_SHARED) { full = true; return undefined; }
      changed = true;
      const sharedWith = add ? [...list, p.user] : list.filter((u) => u !== p.user);
      const { sharedWith: _old, ...rest } = rec;
      return { ...rest, ...(sharedWith.length ? { sharedWith } : {}), updatedAt: now() };
    });
    if (!stored) throw RpcError.notFound('session', p.sessionId);
    if (full) throw RpcError.limit('users a session is shared with', MAX_SHARED);
    if (changed) {
      const session = await this.view(stored);
      void this.deps.events.append(stored.id, 'session.updated', { session: { ...session, lastSeq: session.lastSeq + 1 }, changed: ['sharedWith'] });
    }
    return { sessionId: stored.id, owner: ownerOf(stored), sharedWith: [...(stored.sharedWith ?? [])] };
  }

  /** The session and its newest messages: bounded however long the session is. */
  async get(id: string): Promise<SessionGetResult> {
    const rec = await this.require(id);
    const page = await this.messages({ sessionId: id, limit: GET_MESSAGES });
    return { session: await this.view(rec), messages: page.messages, messagesCursor: page.nextCursor, plan: rec.plan ?? [] };
  }

  /** One page of messages: the newest page first, oldest first within it. */
  async messages(p: SessionMessagesParams): Promise<SessionMessagesResult> {
    await this.require(p.sessionId);
    const limit = p.limit ?? DEFAULT_PAGE;
    // One more than asked says whether an older page exists.
    const rows = await this.deps.store.pageMessages(p.sessionId, limit + 1, p.before);
    if (!rows) throw RpcError.notFound('message', p.before!);
    const page = rows.slice(0, limit).reverse();
    return { messages: page, nextCursor: rows.length > limit ? page[0].id : null };
  }

  /**
   * Name, provider, model, policy. A running turn keeps the provider and model it started with;
   * the change applies from the next turn. Emits session.updated with the changed fields.
   */
  async update(p: SessionUpdateParams): Promise<Session> {
    const cur = await this.require(p.sessionId);
    const providerId = p.provider ?? cur.provider;
    if (p.provider !== undefined && !this.deps.providers.has(p.provider)) throw RpcError.invalidParams('provider', `unknown provider ${p.provider}`);
    const known = this.knownModels(providerId);
    if (p.model !== undefined && !known.has(p.model)) throw RpcError.invalidParams('model', `unknown model ${p.model} for provider ${providerId} (known: ${[...known].join(', ')})`);
    const model = p.model ?? (providerId === cur.provider || known.has(cur.model) ? cur.model : this.defaultModel(providerId));
    const next = { name: p.name ?? cur.name, provider: providerId, model, policy: p.policy ?? cur.policy };
    let changed: string[] = [];
    const stored = await this.deps.store.patchSession(p.sessionId, (rec) => {
      changed = (['name', 'provider', 'model', 'policy'] as const).filter((k) => JSON.stringify(rec[k]) !== JSON.stringify(next[k]));
      if (!changed.length) return undefined;
      const out: SessionRecord = { ...rec, name: next.name, provider: next.provider, model: next.model, updatedAt: now() };
      if (next.policy) out.policy = next.policy;
      return out;
    });
    if (!stored) throw RpcError.notFound('session', p.sessionId);
    const session = await this.view(stored);
    if (changed.length) void this.deps.events.append(stored.id, 'session.updated', { session: { ...session, lastSeq: session.lastSeq + 1 }, changed });
    return changed.length ? { ...session, lastSeq: session.lastSeq + 1 } : session;
  }

  /**
   * A new session with copies of the source's messages through `messageId` (default: all),
   * leaving out any still streaming (a running turn's), on the same workspace, provider, model
   * and policy. The copies get new ids; the rest of their content is unchanged.
   */
  async fork(p: SessionForkParams, caller?: Caller): Promise<Session> {
    const src = await this.require(p.sessionId);
    const through = await this.deps.store.messagesThrough(src.id, p.messageId);
    if (!through) throw RpcError.notFound('message', p.messageId!);
    const kept = through.filter((m) => m.status !== 'streaming');
    const t = now();
    const id = newId('ses');
    const rec: SessionRecord = {
      id, name: p.name ?? src.name, provider: src.provider, model: src.model, workspaceRoot: src.workspaceRoot,
      status: 'idle', activeTurnId: null, createdAt: t, updatedAt: t,
      ...(src.policy ? { policy: src.policy } : {}),
      parentId: src.id, forkedFromMessageId: p.messageId ?? kept.at(-1)?.id ?? null,
      // The fork is its maker's (a user the source is shared with forks a session of their own).
      ...(caller ? { owner: caller.user } : src.owner ? { owner: src.owner } : {}),
    };
    await this.deps.store.insertSessionWithMessages(rec, kept.map((m): Message => ({ ...m, id: newId('msg'), sessionId: id })));
    const session = { ...(await this.view(rec)), lastSeq: 1 };
    void this.deps.events.append(id, 'session.created', { session });
    return session;
  }

  async delete(id: string) {
    const rec = await this.require(id);
    if (rec.status === 'running') await this.deps.turns.cancel(id, 'session deleted');
    // Stored (and delivered) before the session's other events go: deleteSession keeps this one.
    await this.deps.events.append(id, 'session.deleted', { sessionId: id });
    await this.deps.store.deleteSession(id);
    await this.deps.snapshots.forget(id);
    this.deps.events.forget(id);
    return { sessionId: id, deleted: true };
  }
}
