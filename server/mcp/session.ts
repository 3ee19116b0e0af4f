/**
 * Sessions' own MCP servers (session/mcp; ACP's `mcpServers` of session/new and session/load):
 * one McpManager per session, whose tools only that session sees and whose events are that
 * session's. They live in memory only: closed when the connection that gave them closes, when
 * the session is deleted, when they are replaced, and on shutdown. No OAuth sign-in for them
 * (a client that gives a server its headers gives its credentials too).
 */
import type { McpServer, McpServerConfig, SessionMessageParams, Tool, ToolResultPart } from '../../protocol/index.js';
import { MAX_SESSION_MCP_SERVERS } from '../config/defaults.js';
import { RpcError } from '../rpc/errors.js';
import type { SessionRecord } from '../store/store.js';
import { errorResult, type ToolCall, type ToolContext, type ToolSource } from '../tools/host.js';
import { McpManager, type McpManagerDeps } from './manager.js';

export interface SessionMcpDeps extends Omit<McpManagerDeps, 'auth' | 'sessionId' | 'cwd'> {
  /** The configured servers: resource and prompt lookups fall back to them. */
  global: McpManager;
}

/** Who gave a session its servers: they close with it. */
export interface McpOwner {
  readonly id: string;
  onClose(fn: () => void): void;
}

const NO_AUTH: McpManagerDeps['auth'] = {
  connectProvider: () => undefined,
  start: () => { throw RpcError.invalidParams('name', 'is a session\'s own MCP server; those do not sign in with OAuth (give its headers)'); },
  callback: () => { throw RpcError.invalidParams('name', 'is a session\'s own MCP server'); },
  remove: () => {},
};

interface Entry {
  manager: McpManager;
  owner: string;
  /** Owners whose close is already watched. */
  watched: Set<string>;
}

export class SessionMcp implements ToolSource {
  readonly id = 'mcp:session';
  private entries = new Map<string, Entry>();

  constructor(private deps: SessionMcpDeps) {}

  private count(except?: string): number {
    let n = 0;
    for (const [id, e] of this.entries) if (id !== except) n += e.manager.servers().length;
    return n;
  }

  /** Replaces the session's servers and connects them; resolves once each is connected or failed. */
  async set(session: Pick<SessionRecord, 'id' | 'workspaceRoot'>, servers: Record<string, McpServerConfig | undefined>, owner: McpOwner): Promise<McpServer[]> {
    const names = Object.keys(servers).filter((n) => servers[n]);
    if (names.length === 0) {
      await this.drop(session.id);
      return [];
    }
    if (this.count(session.id) + names.length > MAX_SESSION_MCP_SERVERS) throw RpcError.limit('MCP servers of sessions', MAX_SESSION_MCP_SERVERS);
    let e = this.entries.get(session.id);
    if (!e) {
      const { global: _, ...deps } = this.deps;
      e = { manager: new McpManager({ ...deps, cwd: session.workspaceRoot, sessionId: session.id, auth: NO_AUTH }), owner: owner.id, watched: new Set() };
      this.entries.set(session.id, e);
    }
    const entry = e;
    entry.owner = owner.id;
    if (!entry.watched.has(owner.id)) {
      entry.watched.add(owner.id);
      owner.onClose(() => { if (this.entries.get(session.id) === entry && entry.owner === owner.id) void this.drop(session.id); });
    }
    const configs: Record<string, McpServerConfig> = {};
    for (const [name, cfg] of Object.entries(servers)) {
      if (!cfg) continue;
      const { oauth: _o, autoConnect: _a, ...rest } = cfg;
      configs[name] = { ...rest, autoConnect: true };
    }
    entry.manager.reconcile(configs);
    await Promise.all(names.map((n) => entry.manager.connect(n).catch(() => undefined)));
    return entry.manager.servers();
  }

  /** The session's servers (none: an empty list). */
  servers(sessionId: string): McpServer[] {
    return this.entries.get(sessionId)?.manager.servers() ?? [];
  }

  /** Closes the session's servers (session deleted, owner gone, `{}`). */
  async drop(sessionId: string): Promise<void> {
    const e = this.entries.get(sessionId);
    if (!e) return;
    this.entries.delete(sessionId);
    await e.manager.closeAll();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.entries.keys()].map((id) => this.drop(id)));
  }

  /** The manager serving `server` for this session: its own first, else the configured ones. */
  private managerOf(sessionId: string | undefined, server: string): McpManager | undefined {
    const own = sessionId ? this.entries.get(sessionId)?.manager : undefined;
    return own?.hasServer(server) ? own : undefined;
  }

  /** McpManager.userContent with the session's own servers first. */
  userContent(sessionId: string, p: Pick<SessionMessageParams, 'content' | 'prompt'>, signal?: AbortSignal) {
    return this.deps.global.userContent(p, signal, (server) => this.managerOf(sessionId, server));
  }

  /** mcp/resources with `sessionId`: the session's servers, then configured ones it does not shadow. */
  resources(name?: string, sessionId?: string) {
    const g = this.deps.global;
    if (name !== undefined) return (this.managerOf(sessionId, name) ?? g).resources(name);
    const own = sessionId ? this.entries.get(sessionId)?.manager : undefined;
    const all = g.resources();
    if (!own) return all;
    const mine = own.resources();
    const shadowed = (s: string) => own.hasServer(s);
    return {
      resources: [...mine.resources, ...all.resources.filter((r) => !shadowed(r.server))],
      resourceTemplates: [...mine.resourceTemplates, ...all.resourceTemplates.filter((r) => !shadowed(r.server))],
    };
  }

  prompts(name?: string, sessionId?: string) {
    const g = this.deps.global;
    if (name !== undefined) return (this.managerOf(sessionId, name) ?? g).prompts(name);
    const own = sessionId ? this.entries.get(sessionId)?.manager : undefined;
    const all = g.prompts();
    if (!own) return all;
    return { prompts: [...own.prompts().prompts, ...all.prompts.filter((p) => !own.hasServer(p.server))] };
  }

  /** mcp/resource/read of a session's server, else of a configured one. */
  readResource(name: string, uri: string, signal?: AbortSignal, sessionId?: string) {
    return (this.managerOf(sessionId, name) ?? this.deps.global).readResource(name, uri, signal);
  }

  // ---- ToolSource: only the session's own tools, only for that session

  list(session?: SessionRecord): Tool[] {
    return session ? this.entries.get(session.id)?.manager.list() ?? [] : [];
  }

  has(name: string, session?: SessionRecord): boolean {
    return session ? this.entries.get(session.id)?.manager.has(name) ?? false : false;
  }

  execute(call: ToolCall, ctx: ToolContext): Promise<ToolResultPart> {
    const m = this.entries.get(ctx.session.id)?.manager;
    return m ? m.execute(call, ctx) : Promise.resolve(errorResult(call, `Unknown tool: ${call.name}`));
  }
}
