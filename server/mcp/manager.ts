/**
 * MCP servers as a tool source, through @modelcontextprotocol/sdk. One connection per configured
 * server (stdio: a child process; Streamable HTTP: a URL), with a status that every change
 * announces as an `mcp.updated` event. Their tools are `mcp__<server>__<tool>`.
 *
 * Failure handling: a server whose process exits or whose connection closes is marked `failed`
 * and its pending calls end at once with an error result; a call that times out pings the
 * server, and a server that does not answer the ping is marked failed and closed. Reconnecting
 * (mcp/connect) starts over with a fresh client and process.
 *
 * HTTP servers sign in with OAuth (./auth.ts): a 401 without usable tokens is status `needs_auth`
 * until mcp/auth/start + mcp/auth/callback. Resources and prompts of a connected server are listed
 * on connect and again on their list_changed notifications; reads and prompt runs go to the server.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { resolve } from 'node:path';
import type {
  Config, ImagePart, McpPrompt, McpResource, McpResourceContents, McpResourceReadResult, McpResourceTemplate, McpServer, McpServerConfig, SessionMessageParams, TextPart, Tool, ToolResultPart,
} from '../../protocol/index.js';
import { DEFAULT_MCP_CONNECT_TIMEOUT_MS, DEFAULT_MCP_TIMEOUT_MS, MCP_PING_TIMEOUT_MS } from '../config/defaults.js';
import type { EventLog } from '../events/log.js';
import type { Logger } from '../log.js';
import { RpcError } from '../rpc/errors.js';
import { errorResult, type ToolCall, type ToolContext, type ToolSource } from '../tools/host.js';
import { NeedsAuthError, type Challenge, type McpAuth } from './auth.js';
import { convertContent, convertResult, toTool, type McpCallResult } from './convert.js';

/** Resources, templates and prompts kept per server (the rest of a longer list is dropped). */
const MAX_LISTED = 1000;
/** Text and base64 of one resource read, of a message's resources, of a prompt's messages. */
export const MAX_MCP_CONTENT_CHARS = 1 << 20;
const MAX_RESOURCE_REFS = 20;

type Status = McpServer['status'];

interface Conn {
  name: string;
  config: McpServerConfig;
  status: Status;
  error?: string;
  serverInfo?: Record<string, unknown>;
  tools: Tool[];
  /** Model tool name → the server's own tool name. */
  names: Map<string, string>;
  resources: McpResource[];
  templates: McpResourceTemplate[];
  prompts: McpPrompt[];
  /** What the last 401 said, for the sign-in. */
  challenge?: Challenge;
  client?: Client;
  /** Bumped on every connect/disconnect, so callbacks of an old connection are ignored. */
  generation: number;
  connecting?: Promise<void>;
}

/** The SDK loads on first use (it is large; most servers start without MCP). */
async function sdk() {
  const [client, stdio, http, sse, types] = await Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/stdio.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/client/sse.js'),
    import('@modelcontextprotocol/sdk/types.js'),
  ]);
  return {
    Client: client.Client, StdioClientTransport: stdio.StdioClientTransport, StreamableHTTPClientTransport: http.StreamableHTTPClientTransport,
    SSEClientTransport: sse.SSEClientTransport, ToolListChangedNotificationSchema: types.ToolListChangedNotificationSchema,
    ResourceListChangedNotificationSchema: types.ResourceListChangedNotificationSchema, PromptListChangedNotificationSchema: types.PromptListChangedNotificationSchema,
  };
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 500);

/**
 * The one way a server's tools are loaded (on connect and on tools/list_changed): every page,
 * converted, deduplicated by agentd name (the first wins); `names` maps it to the server's name.
 */
async function loadTools(server: string, client: Client, timeout: number): Promise<{ tools: Tool[]; names: Map<string, string> }> {
  const tools: Tool[] = [];
  const names = new Map<string, string>();
  // A server of resources or prompts only has no tools to list.
  if (!client.getServerCapabilities()?.tools) return { tools, names };
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {}, { timeout });
    for (const t of page.tools) {
      const tool = toTool(server, t as Parameters<typeof toTool>[1]);
      if (names.has(tool.name)) continue;
      names.set(tool.name, t.name);
      tools.push(tool);
    }
    cursor = page.nextCursor;
  } while (cursor);
  return { tools, names };
}

const opt = <K extends string>(k: K, v: unknown): Partial<Record<K, string>> => (typeof v === 'string' ? { [k]: v } as Record<K, string> : {});

/** Every page of a list, up to MAX_LISTED items. */
async function pages<T>(fetchPage: (cursor?: string) => Promise<{ items: T[]; nextCursor?: string }>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    out.push(...page.items.slice(0, MAX_LISTED - out.length));
    cursor = page.nextCursor;
  } while (cursor && out.length < MAX_LISTED);
  return out;
}

/** Resources, templates and prompts of a server, as far as it offers them. */
async function loadCatalog(server: string, client: Client, timeout: number) {
  const caps = client.getServerCapabilities() ?? {};
  const o = { timeout };
  const [resources, templates, prompts] = await Promise.all([
    caps.resources ? pages(async (cursor) => { const r = await client.listResources(cursor ? { cursor } : {}, o); return { items: r.resources, nextCursor: r.nextCursor }; }) : [],
    caps.resources ? pages(async (cursor) => { const r = await client.listResourceTemplates(cursor ? { cursor } : {}, o); return { items: r.resourceTemplates, nextCursor: r.nextCursor }; }).catch(() => []) : [],
    caps.prompts ? pages(async (cursor) => { const r = await client.listPrompts(cursor ? { cursor } : {}, o); return { items: r.prompts, nextCursor: r.nextCursor }; }) : [],
  ]);
  return {
    resources: resources.map((r): McpResource => ({
      server, uri: String(r.uri), name: String(r.name), ...opt('title', r.title), ...opt('description', r.description), ...opt('mimeType', r.mimeType),
      ...(typeof r.size === 'number' ? { size: r.size } : {}),
    })),
    templates: templates.map((r): McpResourceTemplate => ({
      server, uriTemplate: String(r.uriTemplate), name: String(r.name), ...opt('title', r.title), ...opt('description', r.description), ...opt('mimeType', r.mimeType),
    })),
    prompts: prompts.map((p): McpPrompt => ({
      server, name: String(p.name), command: `/${server}:${p.name}`, ...opt('title', p.title), ...opt('description', p.description),
      arguments: (p.arguments ?? []).map((a) => ({ name: String(a.name), ...opt('description', a.description), ...(typeof a.required === 'boolean' ? { required: a.required } : {}) })),
    })),
  };
}

/** Cuts resource contents at MAX_MCP_CONTENT_CHARS in all. */
function boundContents(contents: Array<{ uri: string; mimeType?: string; text?: string; blob?: string }>): { contents: McpResourceContents[]; truncated: boolean } {
  let left = MAX_MCP_CONTENT_CHARS;
  let truncated = false;
  const out: McpResourceContents[] = [];
  for (const c of contents) {
    if (left <= 0) { truncated = true; break; }
    const base = { uri: String(c.uri), ...opt('mimeType', c.mimeType) };
    if (typeof c.text === 'string') {
      if (c.text.length > left) truncated = true;
      out.push({ ...base, text: c.text.slice(0, left) });
      left -= c.text.length;
    } else if (typeof c.blob === 'string') {
      // A cut blob is no longer the data: dropped whole.
      if (c.blob.length > left) { truncated = true; continue; }
      out.push({ ...base, blob: c.blob });
      left -= c.blob.length;
    } else out.push(base);
  }
  return { contents: out, truncated };
}

/** SDK errors of a request to a server → typed errors. */
function requestError(server: string, what: string, err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  if ((err as { code?: number }).code === -32001) return RpcError.timeout(`${what} of MCP server ${server}`);
  return RpcError.mcp(server, `${what} failed: ${errorText(err)}`);
}

type UserContent = string | Array<TextPart | ImagePart>;

export interface McpManagerDeps {
  events: Pick<EventLog, 'append'>;
  log: Logger;
  /** agentd's version, told to each MCP server. */
  version: string;
  /** Base of relative `cwd`s of stdio servers. */
  cwd: string;
  /** OAuth sign-in of HTTP servers (tokens in the data dir). */
  auth: Pick<McpAuth, 'start' | 'callback' | 'remove'> & {
    /** The OAuth provider of an HTTP server's transport; undefined: no sign-in (a session's own servers). */
    connectProvider(name: string, cfg: McpServerConfig): ReturnType<McpAuth['connectProvider']> | undefined;
  };
  /** Set for a session's own servers (session/mcp): views carry it and events are that session's. */
  sessionId?: string;
}

export class McpManager implements ToolSource {
  readonly id = 'mcp';
  private conns = new Map<string, Conn>();

  constructor(private deps: McpManagerDeps) {}

  private timeout(c: Conn) {
    return c.config.timeoutMs ?? DEFAULT_MCP_TIMEOUT_MS;
  }

  /** Applies the configured server list: new servers are added (and connected if autoConnect), removed ones closed, changed ones reconnected. */
  reconcile(configured: Config['mcpServers'] = {}): void {
    const servers: Record<string, McpServerConfig> = {};
    for (const [name, s] of Object.entries(configured)) if (s) servers[name] = s;
    for (const [name, c] of this.conns) {
      if (!Object.hasOwn(servers, name)) {
        this.conns.delete(name);
        void this.close(c, 'disconnected');
      }
    }
    for (const [name, config] of Object.entries(servers)) {
      const existing = this.conns.get(name);
      if (existing && JSON.stringify(existing.config) === JSON.stringify(config)) continue;
      const wasUp = existing && (existing.status === 'connected' || existing.status === 'connecting');
      if (existing) void this.close(existing, 'disconnected', false);
      const conn: Conn = { name, config, status: 'disconnected', tools: [], names: new Map(), resources: [], templates: [], prompts: [], generation: (existing?.generation ?? 0) + 1 };
      this.conns.set(name, conn);
      if (config.autoConnect || wasUp) void this.connectConn(conn);
      else if (existing) this.publish(conn);
    }
  }

  view(c: Conn): McpServer {
    return {
      name: c.name,
      transport: c.config.url === undefined ? 'stdio' : c.config.type === 'sse' ? 'sse' : 'http',
      status: c.status,
      ...(c.error ? { error: c.error } : {}),
      ...(c.serverInfo ? { serverInfo: c.serverInfo } : {}),
      tools: c.tools,
      ...(this.deps.sessionId ? { sessionId: this.deps.sessionId } : {}),
    };
  }

  servers(): McpServer[] {
    return [...this.conns.values()].map((c) => this.view(c));
  }

  private conn(name: string): Conn {
    const c = this.conns.get(name);
    if (!c) throw RpcError.notFound('mcp server', name);
    return c;
  }

  private publish(c: Conn) {
    const data = { server: this.view(c) };
    const sessionId = this.deps.sessionId ?? null;
    this.deps.events.append(sessionId, 'mcp.updated', data);
    this.deps.events.append(sessionId, 'mcp.status', data);
  }

  private set(c: Conn, status: Status, error?: string) {
    c.status = status;
    c.error = error;
    if (status !== 'connected') this.clearLists(c);
    this.publish(c);
  }

  /** mcp/connect: resolves once connected or failed (a failure is a status, not a thrown error). */
  async connect(name: string): Promise<McpServer> {
    const c = this.conn(name);
    if (c.status === 'connected') return this.view(c);
    await (c.connecting ?? this.connectConn(c));
    return this.view(c);
  }

  async disconnect(name: string): Promise<McpServer> {
    const c = this.conn(name);
    await this.close(c, 'disconnected');
    return this.view(c);
  }

  private clearLists(c: Conn) {
    c.tools = [];
    c.names.clear();
    c.resources = [];
    c.templates = [];
    c.prompts = [];
  }

  /** fetch for an HTTP server's transport: remembers what a 401 from it said (for the sign-in). */
  private recordingFetch(c: Conn, extract: (res: Response) => Challenge): typeof fetch {
    const origin = new URL(c.config.url!).origin;
    const originOf = (u: string) => { try { return new URL(u).origin; } catch { return ''; } };
    return async (input, init) => {
      const res = await fetch(input, init);
      if (res.status === 401 && originOf(input instanceof Request ? input.url : String(input)) === origin) {
        try { c.challenge = extract(res); } catch { c.challenge = {}; }
      }
      return res;
    };
  }

  private connectConn(c: Conn): Promise<void> {
    const gen = ++c.generation;
    const log = this.deps.log.child({ mcp: c.name });
    const cfg = c.config;
    const timeout = cfg.connectTimeoutMs ?? DEFAULT_MCP_CONNECT_TIMEOUT_MS;
    this.set(c, 'connecting');
    const stale = () => c.generation !== gen;
    let client: Client | undefined;
    const run = async () => {
      try {
        const { Client, StdioClientTransport, StreamableHTTPClientTransport, SSEClientTransport, ToolListChangedNotificationSchema, ResourceListChangedNotificationSchema, PromptListChangedNotificationSchema } = await sdk();
        const { extractWWWAuthenticateParams } = cfg.url !== undefined ? await import('@modelcontextprotocol/sdk/client/auth.js') : { extractWWWAuthenticateParams: undefined };
        if (stale()) return;
        const cl = new Client({ name: 'agentd', version: this.deps.version }, { capabilities: {} });
        client = cl;
        c.client = cl;
        cl.onclose = () => {
          if (stale() || c.status === 'disconnected' || c.status === 'failed') return;
          log.warn('MCP connection closed');
          c.client = undefined;
          this.set(c, 'failed', 'connection closed (server exited or dropped the connection)');
        };
        cl.onerror = (err) => log.debug({ err: errorText(err) }, 'MCP transport error');
        let transport;
        if (cfg.url !== undefined && cfg.type === 'sse') {
          // The older HTTP+SSE transport (MCP 2024-11-05), for servers that speak nothing newer.
          const headers = (cfg.headers ?? {}) as Record<string, string>;
          transport = new SSEClientTransport(new URL(cfg.url), {
            requestInit: { headers }, authProvider: this.deps.auth.connectProvider(c.name, cfg), fetch: this.recordingFetch(c, extractWWWAuthenticateParams!),
            eventSourceInit: { fetch: (u, init) => fetch(u, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }) },
          });
        } else if (cfg.url !== undefined) {
          transport = new StreamableHTTPClientTransport(new URL(cfg.url), {
            requestInit: { headers: (cfg.headers ?? {}) as Record<string, string> }, authProvider: this.deps.auth.connectProvider(c.name, cfg), fetch: this.recordingFetch(c, extractWWWAuthenticateParams!),
          });
        } else {
          if (!cfg.command) throw new Error('no command or url configured');
          const stdio = new StdioClientTransport({
            command: cfg.command, args: cfg.args ?? [], env: cfg.env as Record<string, string> | undefined, cwd: resolve(this.deps.cwd, cfg.cwd ?? '.'), stderr: 'pipe',
          });
          stdio.stderr?.on('data', (d: Buffer) => log.debug({ stderr: d.toString().slice(0, 2000) }, 'MCP server stderr'));
          transport = stdio;
        }
        await cl.connect(transport, { timeout });
        const [{ tools, names }, catalog] = await Promise.all([loadTools(c.name, cl, timeout), loadCatalog(c.name, cl, timeout)]);
        if (stale()) return;
        cl.setNotificationHandler(ToolListChangedNotificationSchema, () => void this.refreshTools(c, gen));
        cl.setNotificationHandler(ResourceListChangedNotificationSchema, () => void this.refreshCatalog(c, gen));
        cl.setNotificationHandler(PromptListChangedNotificationSchema, () => void this.refreshCatalog(c, gen));
        c.tools = tools;
        c.names = names;
        c.resources = catalog.resources;
        c.templates = catalog.templates;
        c.prompts = catalog.prompts;
        const info = cl.getServerVersion();
        c.serverInfo = info ? { ...info } : undefined;
        this.set(c, 'connected');
        log.info({ tools: tools.length }, 'MCP server connected');
      } catch (err) {
        if (stale()) return;
        c.client = undefined;
        if (err instanceof NeedsAuthError || (err as Error)?.name === 'UnauthorizedError') {
          log.info('MCP server needs a sign-in');
          this.set(c, 'needs_auth', 'sign-in required: mcp/auth/start');
        } else {
          log.warn({ err: errorText(err) }, 'MCP connect failed');
          this.set(c, 'failed', `connect failed: ${errorText(err)}`);
        }
        void client?.close().catch(() => {});
      }
    };
    c.connecting = run().finally(() => {
      if (c.generation === gen) c.connecting = undefined;
    });
    return c.connecting;
  }

  private async refreshTools(c: Conn, gen: number) {
    if (c.generation !== gen || !c.client) return;
    try {
      const { tools, names } = await loadTools(c.name, c.client, c.config.connectTimeoutMs ?? DEFAULT_MCP_CONNECT_TIMEOUT_MS);
      if (c.generation !== gen) return;
      c.tools = tools;
      c.names = names;
      this.publish(c);
    } catch { /* the next call finds out */ }
  }

  private async refreshCatalog(c: Conn, gen: number) {
    if (c.generation !== gen || !c.client) return;
    try {
      const catalog = await loadCatalog(c.name, c.client, c.config.connectTimeoutMs ?? DEFAULT_MCP_CONNECT_TIMEOUT_MS);
      if (c.generation !== gen) return;
      c.resources = catalog.resources;
      c.templates = catalog.templates;
      c.prompts = catalog.prompts;
      this.publish(c);
    } catch { /* the next request finds out */ }
  }

  /** mcp/auth/start: the URL to open (the server's last 401 tells where its metadata is). */
  async authStart(name: string, redirectUri?: string): Promise<{ authorizationUrl: string }> {
    const c = this.conn(name);
    return { authorizationUrl: await this.deps.auth.start(name, c.config, redirectUri, c.challenge) };
  }

  /** mcp/auth/callback: stores the tokens, then reconnects with them. */
  async authCallback(name: string, code: string, state: string): Promise<McpServer> {
    const c = this.conn(name);
    await this.deps.auth.callback(name, c.config, code, state);
    await this.close(c, 'disconnected', false);
    await this.connectConn(c);
    return this.view(c);
  }

  /** mcp/auth/remove: signs out and disconnects. */
  async authRemove(name: string): Promise<McpServer> {
    const c = this.conn(name);
    this.deps.auth.remove(name);
    c.challenge = undefined;
    await this.close(c, 'disconnected');
    return this.view(c);
  }

  /** Connected servers (or the one named, which must be connected). */
  private selected(name?: string): Conn[] {
    if (name === undefined) return [...this.conns.values()].filter((c) => c.status === 'connected');
    return [this.connected(name)];
  }

  private connected(name: string): Conn & { client: Client } {
    const c = this.conn(name);
    if (c.status !== 'connected' || !c.client) throw RpcError.mcp(name, `is not connected (status ${c.status})`);
    return c as Conn & { client: Client };
  }

  resources(name?: string): { resources: McpResource[]; resourceTemplates: McpResourceTemplate[] } {
    const cs = this.selected(name);
    return { resources: cs.flatMap((c) => c.resources), resourceTemplates: cs.flatMap((c) => c.templates) };
  }

  prompts(name?: string): { prompts: McpPrompt[] } {
    return { prompts: this.selected(name).flatMap((c) => c.prompts) };
  }

  /** mcp/resource/read: the server reads the URI (agentd never opens it); contents bounded. */
  async readResource(name: string, uri: string, signal?: AbortSignal): Promise<McpResourceReadResult> {
    const c = this.connected(name);
    let r;
    try {
      r = await c.client.readResource({ uri }, { timeout: this.timeout(c), signal });
    } catch (err) {
      throw requestError(name, `resources/read ${uri.slice(0, 200)}`, err);
    }
    const { contents, truncated } = boundContents(Array.isArray(r.contents) ? r.contents as Parameters<typeof boundContents>[0] : []);
    return { server: name, uri, contents, ...(truncated ? { truncated: true } : {}) };
  }

  /**
   * The user content of a session/message: `resource` parts are read and become text headed by
   * their URI (an image blob an image); a `prompt` is run and its messages come first, every
   * one as the user's text (a prompt cannot speak for the assistant: other roles are labelled).
   * `lookup` names another manager for a server (a session's own, session/mcp); else this one.
   */
  async userContent(p: Pick<SessionMessageParams, 'content' | 'prompt'>, signal?: AbortSignal, lookup?: (server: string) => McpManager | undefined): Promise<UserContent> {
    const of = (server: string) => lookup?.(server) ?? this;
    const parts: Array<TextPart | ImagePart> = [];
    let left = MAX_MCP_CONTENT_CHARS;
    const add = (part: TextPart | ImagePart) => {
      const size = part.type === 'text' ? part.text.length : part.data.length;
      if (size > left) {
        if (part.type === 'text') parts.push({ type: 'text', text: `${part.text.slice(0, Math.max(0, left))}\n[truncated: MCP content is limited to ${MAX_MCP_CONTENT_CHARS} characters]` });
        left = 0;
        return;
      }
      left -= size;
      parts.push(part);
    };
    if (p.prompt) {
      const { server, name, arguments: args } = p.prompt;
      const c = of(server).connected(server);
      let r;
      try {
        r = await c.client.getPrompt({ name, arguments: (args ?? {}) as Record<string, string> }, { timeout: this.timeout(c), signal });
      } catch (err) {
        throw requestError(server, `prompts/get ${name.slice(0, 200)}`, err);
      }
      for (const m of r.messages ?? []) {
        const part = convertContent(m.content as Parameters<typeof convertContent>[0]);
        if (m.role !== 'user' && part.type === 'text') part.text = `[${String(m.role).slice(0, 20)} message of MCP prompt ${server}:${name}]\n${part.text}`;
        if (left > 0) add(part);
      }
      if (parts.length === 0) throw RpcError.mcp(server, `prompt ${name} returned no messages`);
    }
    const content = p.content;
    if (typeof content === 'string') add({ type: 'text', text: content });
    else if (content) {
      const refs = content.filter((x) => x.type === 'resource').length;
      if (refs > MAX_RESOURCE_REFS) throw RpcError.invalidParams('content', `has ${refs} resource references; at most ${MAX_RESOURCE_REFS}`);
      for (const part of content) {
        if (part.type !== 'resource') { add(part); continue; }
        const read = await of(part.server).readResource(part.server, part.uri, signal);
        if (read.contents.length === 0) add({ type: 'text', text: `Resource ${part.uri} (MCP server ${part.server}): empty` });
        for (const x of read.contents) {
          add(convertContent({ type: 'resource', resource: { ...x, uri: x.uri } }) as TextPart | ImagePart);
        }
      }
    }
    if (parts.length === 0) throw RpcError.invalidParams('content', 'is required unless `prompt` is given');
    return parts;
  }

  private async close(c: Conn, status: 'disconnected' | 'failed', announce = true, error?: string) {
    c.generation++;
    const client = c.client;
    c.client = undefined;
    c.connecting = undefined;
    if (announce) this.set(c, status, error);
    else { c.status = status; this.clearLists(c); }
    await client?.close().catch(() => {});
  }

  /** Whether a server of this name is set up here (connected or not). */
  hasServer(name: string): boolean {
    return this.conns.has(name);
  }

  has(name: string): boolean {
    for (const c of this.conns.values()) if (c.status === 'connected' && c.names.has(name)) return true;
    return false;
  }

  list(): Tool[] {
    const out: Tool[] = [];
    for (const c of this.conns.values()) if (c.status === 'connected') out.push(...c.tools);
    return out;
  }

  async execute(call: ToolCall, ctx: ToolContext): Promise<ToolResultPart> {
    const fail = (text: string) => errorResult(call, text);
    const c = [...this.conns.values()].find((x) => x.names.has(call.name));
    if (!c || !c.client || c.status !== 'connected') return fail(`MCP tool ${call.name} is not available (server not connected).`);
    const client = c.client;
    const gen = c.generation;
    const timeout = this.timeout(c);
    try {
      const r = await client.callTool({ name: c.names.get(call.name)!, arguments: call.input }, undefined, { timeout, signal: ctx.signal });
      return convertResult(call.id, r as McpCallResult);
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      const msg = errorText(err);
      const code = (err as { code?: number }).code;
      if (code === -32001 /* RequestTimeout */) {
        // A slow tool, or a hung server? Ask it.
        const alive = await client.ping({ timeout: Math.min(MCP_PING_TIMEOUT_MS, timeout) }).then(() => true, () => false);
        if (!alive && c.generation === gen) {
          this.deps.log.warn({ mcp: c.name }, 'MCP server does not answer; marked failed');
          void this.close(c, 'failed', true, `server stopped responding (no reply within ${timeout} ms, ping failed)`);
        }
        return fail(`MCP server ${c.name} did not answer ${call.name} within ${timeout} ms.`);
      }
      return fail(`MCP call ${call.name} failed: ${msg}`);
    }
  }

  /** Shutdown: closes every connection (stdio children are ended). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.conns.values()].map((c) => this.close(c, 'disconnected', false)));
  }
}
