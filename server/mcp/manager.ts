/**
 * MCP servers as a tool source, through @modelcontextprotocol/sdk. One connection per configured
 * server (stdio: a child process; Streamable HTTP: a URL), with a status that every change
 * announces as an `mcp.updated` event. Their tools are `mcp__<server>__<tool>`.
 *
 * Failure handling: a server whose process exits or whose connection closes is marked `failed`
 * and its pending calls end at once with an error result; a call that times out pings the
 * server, and a server that does not answer the ping is marked failed and closed. Reconnecting
 * (mcp/connect) starts over with a fresh client and process.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { resolve } from 'node:path';
import type { Config, McpServer, McpServerConfig, Tool, ToolResultPart } from '../../protocol/index.js';
import { DEFAULT_MCP_CONNECT_TIMEOUT_MS, DEFAULT_MCP_TIMEOUT_MS, MCP_PING_TIMEOUT_MS } from '../config/defaults.js';
import type { EventLog } from '../events/log.js';
import type { Logger } from '../log.js';
import { RpcError } from '../rpc/errors.js';
import { errorResult, type ToolCall, type ToolContext, type ToolSource } from '../tools/host.js';
import { convertResult, toTool, type McpCallResult } from './convert.js';



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

export interface McpManagerDeps {
  events: Pick<EventLog, 'append'>;
  log: Logger;
  /** agentd's version, told to each MCP server. */
  version: string;
  /** Base of relative `cwd`s of stdio servers. */
  cwd: string;
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
      const conn: Conn = { name, config, status: 'disconnected', tools: [], names: new Map(), generation: (existing?.generation ?? 0) + 1 };
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
    this.deps.events.append(null, 'mcp.updated', { server: this.view(c) });
  }

  private set(c: Conn, status: Status, error?: string) {
    c.status = status;
    c.error = error;
    if (status !== 'connected') {
      c.tools = [];
      c.names.clear();
    }
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
        const { Client, StdioClientTransport, StreamableHTTPClientTransport, SSEClientTransport, ToolListChangedNotificationSchema } = await sdk();
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
          transport = new SSEClientTransport(new URL(cfg.url), { requestInit: { headers }, eventSourceInit: { fetch: (u, init) => fetch(u, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }) } });
        } else if (cfg.url !== undefined) {
          transport = new StreamableHTTPClientTransport(new URL(cfg.url), { requestInit: { headers: (cfg.headers ?? {}) as Record<string, string> } });
        } else {
          if (!cfg.command) throw new Error('no command or url configured');
          const stdio = new StdioClientTransport({
            command: cfg.command, args: cfg.args ?? [], env: cfg.env as Record<string, string> | undefined, cwd: resolve(this.deps.cwd, cfg.cwd ?? '.'), stderr: 'pipe',
          });
          stdio.stderr?.on('data', (d: Buffer) => log.debug({ stderr: d.toString().slice(0, 2000) }, 'MCP server stderr'));
          transport = stdio;
        }
        await cl.connect(transport, { timeout });
        const { tools, names } = await loadTools(c.name, cl, timeout);
        if (stale()) return;
        cl.setNotificationHandler(ToolListChangedNotificationSchema, () => void this.refreshTools(c, gen));
        c.tools = tools;
        c.names = names;
        const info = cl.getServerVersion();
        c.serverInfo = info ? { ...info } : undefined;
        this.set(c, 'connected');
        log.info({ tools: tools.length }, 'MCP server connected');
      } catch (err) {
        if (stale()) return;
        log.warn({ err: errorText(err) }, 'MCP connect failed');
        c.client = undefined;
        this.set(c, 'failed', `connect failed: ${errorText(err)}`);
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

  private async close(c: Conn, status: 'disconnected' | 'failed', announce = true, error?: string) {
    c.generation++;
    const client = c.client;
    c.client = undefined;
    c.connecting = undefined;
    if (announce) this.set(c, status, error);
    else { c.status = status; c.tools = []; c.names.clear(); }
    await client?.close().catch(() => {});
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
