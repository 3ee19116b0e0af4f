/**
 * The composition root: one Core per server process, shared by every transport. It owns the
 * store, the event log, config, providers, tools, sessions, turns and the dispatcher.
 */
import { join } from 'node:path';
import type { Logger } from './log.js';
import { createLogger } from './log.js';
import { ConfigService } from './config/service.js';
import { resolveDataDir } from './config/paths.js';
import { EventLog } from './events/log.js';
import { handlers } from './handlers/index.js';
import { EchoProvider } from './provider/echo.js';
import { ProviderRegistry } from './provider/registry.js';
import { Dispatcher } from './rpc/dispatcher.js';
import type { Peer } from './rpc/peer.js';
import { SessionService } from './session/service.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/store.js';
import { ApprovalGate } from './approval/gate.js';
import { ApprovalService } from './approval/service.js';
import { McpManager } from './mcp/manager.js';
import { CompositeToolHost, type ToolHost } from './tools/host.js';
import { TurnRunner } from './turn/runner.js';
import { VERSION } from './version.js';

export interface CoreOptions {
  /** Data directory (default: $AGENTD_HOME or the XDG data dir). */
  dataDir?: string;
  /** Base for relative workspace roots; default process.cwd(). */
  cwd?: string;
  log?: Logger;
}

export class Core {
  readonly version = VERSION;
  readonly dataDir: string;
  readonly cwd: string;
  readonly log: Logger;
  readonly store: Store;
  readonly events: EventLog;
  readonly config: ConfigService;
  readonly providers = new ProviderRegistry();
  /** Where tools come from: add a ToolSource here (built-in tools first, then MCP servers). */
  readonly toolSources: CompositeToolHost;
  /** The single entry point the agent loop (and tool/list) calls: the approval gate in front of toolSources. */
  tools: ToolHost;
  readonly approvals: ApprovalService;
  readonly mcp: McpManager;
  readonly sessions: SessionService;
  readonly turns: TurnRunner;
  readonly dispatcher: Dispatcher;
  readonly peers = new Set<Peer>();
  shuttingDown = false;

  constructor(opts: CoreOptions = {}) {
    this.dataDir = resolveDataDir(opts.dataDir);
    this.cwd = opts.cwd ?? process.cwd();
    this.log = opts.log ?? createLogger();
    this.config = new ConfigService(this.dataDir, this.cwd);
    this.store = new SqliteStore(join(this.dataDir, 'agentd.db'));
    this.events = new EventLog(this.store, this.log);
    this.providers.add(new EchoProvider());
    this.approvals = new ApprovalService(this);
    this.mcp = new McpManager(this);
    this.toolSources = new CompositeToolHost([this.mcp]);
    this.tools = new ApprovalGate(this, this.toolSources);
    this.config.onChange(() => {
      this.events.append(null, 'config.updated', { config: this.config.public() });
      this.mcp.reconcile(this.config.get().mcpServers);
    });
    this.sessions = new SessionService(this);
    this.turns = new TurnRunner(this);
    this.dispatcher = new Dispatcher(this, handlers);
    // Servers marked autoConnect connect in the background; failures become a `failed` status.
    this.mcp.reconcile(this.config.get().mcpServers);
  }

  /** max_tokens for a provider's requests. */
  providerMaxTokens(providerId: string): number {
    return this.config.get().providers?.[providerId]?.maxTokens ?? 4096;
  }

  trackPeer(peer: Peer) {
    this.peers.add(peer);
    peer.onClose(() => {
      this.peers.delete(peer);
      this.approvals.peerClosed(peer);
    });
  }

  /** Stops accepting work, ends running turns as interrupted, flushes and closes the store. */
  async close(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    await this.turns.cancelAll('shutdown');
    await this.mcp.closeAll();
    this.events.flush();
    this.store.close();
  }
}
