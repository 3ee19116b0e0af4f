/** Session lifecycle: create, list, get, delete, each with its event. */
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import type { Message, Session, SessionCreateParams } from '../../protocol/index.js';
import type { ConfigService } from '../config/service.js';
import type { EventLog } from '../events/log.js';
import type { ProviderRegistry } from '../provider/registry.js';
import { RpcError } from '../rpc/errors.js';
import type { SessionRecord, Store } from '../store/store.js';
import { newId, now } from './ids.js';

/** The protocol view of a stored session. */
export function sessionView(events: Pick<EventLog, 'lastSeq'>, rec: SessionRecord): Session {
  const { ownerPid: _owner, ...session } = rec;
  return { ...session, lastSeq: events.lastSeq(rec.id) };
}

/** The stored session, or NotFound. */
export function requireSession(store: Pick<Store, 'getSession'>, id: string): SessionRecord {
  const rec = store.getSession(id);
  if (!rec) throw RpcError.notFound('session', id);
  return rec;
}

export interface SessionServiceDeps {
  store: Store;
  events: EventLog;
  config: Pick<ConfigService, 'defaultProvider' | 'get'>;
  providers: Pick<ProviderRegistry, 'get'>;
  /** Base of relative workspace roots. */
  cwd: string;
  /** Deleting a running session cancels its turn first. */
  turns: { cancel(sessionId: string, reason?: string): Promise<unknown> };
}

export class SessionService {
  constructor(private deps: SessionServiceDeps) {}

  /** The protocol view of a stored session. */
  view(rec: SessionRecord): Session {
    return sessionView(this.deps.events, rec);
  }

  /** The stored session, or NotFound. */
  require(id: string): SessionRecord {
    return requireSession(this.deps.store, id);
  }

  create(p: SessionCreateParams): Session {
    const providerId = p.provider ?? this.deps.config.defaultProvider();
    const provider = this.deps.providers.get(providerId);
    const root = this.workspace(p.workspaceRoot ?? this.deps.cwd);
    const t = now();
    const rec: SessionRecord = {
      id: newId('ses'),
      name: p.name ?? 'session',
      provider: providerId,
      model: p.model ?? (providerId === this.deps.config.defaultProvider() ? this.deps.config.get().defaultModel : undefined) ?? provider.info().defaultModel,
      workspaceRoot: root,
      status: 'idle',
      activeTurnId: null,
      createdAt: t,
      updatedAt: t,
      ...(p.policy ? { policy: p.policy } : {}),
    };
    this.deps.store.insertSession(rec);
    const session = this.view(rec);
    this.deps.events.append(rec.id, 'session.created', { session: { ...session, lastSeq: 1 } });
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

  list(): Session[] {
    return this.deps.store.listSessions().map((r) => this.view(r));
  }

  get(id: string): { session: Session; messages: Message[] } {
    const rec = this.require(id);
    return { session: this.view(rec), messages: this.deps.store.listMessages(id) };
  }

  async delete(id: string) {
    const rec = this.require(id);
    if (rec.status === 'running') await this.deps.turns.cancel(id, 'session deleted');
    this.deps.events.append(id, 'session.deleted', { sessionId: id });
    this.deps.events.flush();
    this.deps.store.deleteSession(id);
    this.deps.events.forget(id);
    return { sessionId: id, deleted: true };
  }
}
