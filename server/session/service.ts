/** Session lifecycle: create, list, get, delete, each with its event. */
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import type { Message, Session, SessionCreateParams } from '../../protocol/index.js';
import type { Core } from '../core.js';
import { RpcError } from '../rpc/errors.js';
import type { SessionRecord } from '../store/store.js';
import { newId, now } from './ids.js';

export class SessionService {
  constructor(private core: Core) {}

  /** The protocol view of a stored session. */
  view(rec: SessionRecord): Session {
    const { ownerPid: _owner, ...session } = rec;
    return { ...session, lastSeq: this.core.events.lastSeq(rec.id) };
  }

  /** The stored session, or NotFound. */
  require(id: string): SessionRecord {
    const rec = this.core.store.getSession(id);
    if (!rec) throw RpcError.notFound('session', id);
    return rec;
  }

  async create(p: SessionCreateParams): Promise<Session> {
    const providerId = p.provider ?? this.core.config.defaultProvider();
    // Local servers found at start count as configured: wait for that look (it has a short timeout).
    if (!this.core.providers.has(providerId)) await this.core.providers.ready();
    if (!this.core.providers.has(providerId)) throw RpcError.invalidParams('provider', `names no provider: ${providerId} (known: ${this.core.providers.ids().join(', ')})`);
    const provider = this.core.providers.get(providerId);
    const root = this.workspace(p.workspaceRoot ?? this.core.cwd);
    const model = p.model ?? (providerId === this.core.config.defaultProvider() ? this.core.config.get().defaultModel : undefined) ?? provider.info().defaultModel;
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
    };
    this.core.store.insertSession(rec);
    const session = this.view(rec);
    this.core.events.append(rec.id, 'session.created', { session: { ...session, lastSeq: 1 } });
    return { ...session, lastSeq: 1 };
  }

  private workspace(dir: string): string {
    const abs = resolve(this.core.cwd, dir);
    // A relative root is relative to the server's directory and may not climb out of it.
    if (!isAbsolute(dir) && relative(this.core.cwd, abs).startsWith('..')) {
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
    return this.core.store.listSessions().map((r) => this.view(r));
  }

  get(id: string): { session: Session; messages: Message[] } {
    const rec = this.require(id);
    return { session: this.view(rec), messages: this.core.store.listMessages(id) };
  }

  async delete(id: string) {
    const rec = this.require(id);
    if (rec.status === 'running') await this.core.turns.cancel(id, 'session deleted');
    this.core.events.append(id, 'session.deleted', { sessionId: id });
    this.core.events.flush();
    this.core.store.deleteSession(id);
    this.core.events.forget(id);
    return { sessionId: id, deleted: true };
  }
}
