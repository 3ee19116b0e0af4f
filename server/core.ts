/**
 * The composition root: one Core per server process, shared by every transport. It owns the
 * store, the event log, config, providers, tools, sessions, turns and the dispatcher, and is the
 * one module that knows every part: each service declares the narrow deps it uses (an interface
 * beside it) and gets only those here. Only the entry points (serve.ts, cli.ts) import this file.
 */
import { realpathSync } from 'node:fs';
import type { Logger } from './log.js';
import { createLogger } from './log.js';
import { ConfigService } from './config/service.js';
import { resolveDataDir } from './config/paths.js';
import { EventLog } from './events/log.js';
import { handlers } from './handlers/index.js';
import { AnthropicProvider } from './provider/anthropic.js';
import { CredentialStore } from './provider/credentials.js';
import { EchoProvider } from './provider/echo.js';
import { OAuthService } from './provider/oauth.js';
import { OpenAIProviders } from './provider/openai-providers.js';
import { ProviderRegistry } from './provider/registry.js';
import { Dispatcher } from './rpc/dispatcher.js';
import { IdempotencyCache } from './rpc/idempotency.js';
import type { Peer } from './rpc/peer.js';
import { SessionAffinity } from './session/affinity.js';
import { Recovery } from './session/recovery.js';
import { Compactor } from './session/compaction.js';
import { SessionService } from './session/service.js';
import { SnapshotService } from './snapshot/service.js';
import { ApiKeys } from './security/keys.js';
import { SessionAccess } from './security/access.js';
import { Shutdown } from './shutdown.js';
import { openSqliteStore, openStore, storeUrl } from './store/open.js';
import type { Store } from './store/store.js';
import type { Config } from '../protocol/index.js';
import { ApprovalGate } from './approval/gate.js';
import { ApprovalService } from './approval/service.js';
import { McpAuth } from './mcp/auth.js';
import { McpManager } from './mcp/manager.js';
import { SessionMcp } from './mcp/session.js';
import { BuiltinToolHost } from './tools/builtin.js';
import { ClientFiles } from './tools/client-files.js';
import { CompositeToolHost, type ToolHost } from './tools/host.js';
import { PlanTools } from './tools/plan.js';
import { ProcessRegistry } from './tools/processes.js';
import { CommandSandbox } from './tools/sandbox.js';
import { withTestTools } from './tools/testing.js';
import { SendBudget } from './transport/writer.js';
import { TurnRunner, type ActiveTurn } from './turn/runner.js';
import { VERSION } from './version.js';
import { DEFAULT_STORE, timings } from './config/defaults.js';

/** Where several nodes keep their shared user config. */
const SHARED_CONFIG = { ns: 'config', key: 'user' };

export interface CoreOptions {
  /** Data directory (default: $AGENTD_HOME or the XDG data dir). */
  dataDir?: string;
  /** Base for relative workspace roots; default process.cwd(). */
  cwd?: string;
  /** Read the workspace's agentd.json (default true; `serve --no-project-config` or AGENTD_NO_PROJECT_CONFIG=1: false). */
  projectConfig?: boolean;
  /**
   * Probe local model servers on first need rather than at start (an in-process server for one
   * `agentd run` turn: a turn on the echo or a configured provider never needs them).
   */
  lazyDetection?: boolean;
  /** `sqlite` (default) or a postgres:// URL (`serve --store`; else AGENTD_DATABASE_URL, config `store.url`). */
  store?: string;
  log?: Logger;
  /** Given by Core.open: the store it opened (PostgreSQL opens asynchronously) and the config it read for that. */
  opened?: { store: Store; config: ConfigService };
}

export class Core {
  readonly version = VERSION;
  readonly dataDir: string;
  readonly cwd: string;
  readonly log: Logger;
  readonly store: Store;
  /** API keys of HTTP and WebSocket clients (checked by the access guard and on every keyed request). */
  readonly keys: ApiKeys;
  readonly events: EventLog;
  /** Which sessions each user may see and drive (owner, shared with); the dispatcher and event delivery ask it. */
  readonly access: SessionAccess;
  readonly config: ConfigService;
  readonly providers = new ProviderRegistry();
  /** Provider credentials (`credentials.json`, mode 0600). */
  readonly credentials: CredentialStore;
  readonly oauth: OAuthService;
  /** openai-compatible providers: `openai`, configured endpoints, local servers detected on loopback. */
  readonly openaiProviders: OpenAIProviders;
  /** Where tools come from: the built-in tools first, then MCP servers (one source for all of them). */
  readonly toolSources: CompositeToolHost;
  /** The single entry point the agent loop (and tool/list) calls: the approval gate in front of toolSources. */
  readonly tools: ToolHost;
  readonly approvals: ApprovalService;
  readonly mcp: McpManager;
  /** Sessions' own MCP servers (session/mcp): their tools reach only that session. */
  readonly sessionMcp: SessionMcp;
  /** Sessions whose file reads and writes a client serves (session/files). */
  readonly clientFiles = new ClientFiles();
  readonly sessions: SessionService;
  readonly turns: TurnRunner;
  /** Workspace snapshots around turns: turn diffs, revert, unrevert (a shadow git repository per workspace). */
  readonly snapshots: SnapshotService;
  /** Summaries that replace the history sent to the model (session/compact, and automatic). */
  readonly compactor: Compactor;
  readonly dispatcher: Dispatcher;
  /** Outcomes of requests that carried an `idempotencyKey` (persisted). */
  readonly idempotency: IdempotencyCache;
  readonly peers = new Set<Peer>();
  /** Bytes buffered for slow readers, over every connection (limits.totalSendBufferBytes). */
  readonly sendBudget = new SendBudget(() => this.config.limits().totalSendBufferBytes);
  /** Tool subprocess groups: killed on shutdown (tools spawn through it or register their children). */
  readonly processes = new ProcessRegistry();
  /** Where run_command's commands run (bubblewrap, or off by config); tool/list and initialize report it. */
  readonly sandbox: CommandSandbox;
  /** Crash recovery of turns a dead process left running; `recovery.addStep` to extend it. */
  readonly recovery: Recovery;
  /** Graceful shutdown; `shutdown.add(name, hook)` to close something (MCP servers) on the way out. */
  readonly shutdown: Shutdown;
  private readonly stopper = new AbortController();
  /** The one stopping signal: aborted when shutdown begins (the dispatcher refuses work from then on). */
  readonly stopping = this.stopper.signal;
  private readonly lazyDetection: boolean;

  /** A core on the store its options name: SQLite (also `new Core`) or PostgreSQL, which opens asynchronously. */
  static async open(opts: CoreOptions = {}): Promise<Core> {
    const dataDir = resolveDataDir(opts.dataDir);
    const config = Core.readConfig(dataDir, opts.cwd ?? process.cwd(), opts);
    const log = opts.log ?? createLogger();
    const storeConfig = config.get().store;
    const store = await openStore(dataDir, storeUrl(opts.store, storeConfig), storeConfig, (message, level = 'error') => (level === 'warn' ? log.warn({ store: message }, 'store') : log.error({ err: message }, 'store')));
    return new Core({ ...opts, log, opened: { store, config } });
  }

  private static readConfig(dataDir: string, cwd: string, opts: CoreOptions) {
    return new ConfigService(dataDir, cwd, { projectConfig: opts.projectConfig ?? process.env.AGENTD_NO_PROJECT_CONFIG !== '1' });
  }

  constructor(opts: CoreOptions = {}) {
    this.lazyDetection = opts.lazyDetection === true;
    this.dataDir = resolveDataDir(opts.dataDir);
    this.cwd = opts.cwd ?? process.cwd();
    this.log = opts.log ?? createLogger();
    this.config = opts.opened?.config ?? Core.readConfig(this.dataDir, this.cwd, opts);
    this.warnUntrusted();
    this.store = opts.opened?.store ?? openSqliteStore(this.dataDir, storeUrl(opts.store, this.config.get().store));
    this.keys = new ApiKeys(this.store);
    this.events = new EventLog(this.store, this.log, () => this.config.limits().eventRetention);
    this.access = new SessionAccess({ store: this.store, events: this.events });
    this.credentials = new CredentialStore(this.dataDir);
    this.oauth = new OAuthService(this.config, this.credentials, this.log);
    this.providers.add(new EchoProvider());
    this.providers.add(new AnthropicProvider({ config: this.config, credentials: this.credentials, oauth: this.oauth, log: this.log }));
    const { store, events, log, config, providers } = this;
    this.openaiProviders = new OpenAIProviders({ config, credentials: this.credentials, log, registry: providers });
    providers.addSource(this.openaiProviders);
    const access = this.access;
    const cluster = store.cluster;
    this.approvals = new ApprovalService({
      events, log, peers: this.peers, mayDrive: (peer, sessionId) => access.canSee(sessionId, peer.caller),
      ...(cluster ? { cluster: { nodeId: cluster.nodeId, store, command: (node, body) => cluster.command(node, body) } } : {}),
    });
    this.mcp = new McpManager({ events, log, version: this.version, cwd: this.cwd, auth: new McpAuth({ dataDir: this.dataDir, log }) });
    this.sessionMcp = new SessionMcp({ events, log, version: this.version, global: this.mcp });
    this.sandbox = new CommandSandbox({ settings: () => config.get().tools?.runCommand, dataDir: this.dataDir });
    const hidden = [realpathSync(this.dataDir)];
    this.toolSources = new CompositeToolHost([new BuiltinToolHost(() => config.limits(), undefined, this.processes, this.sandbox, hidden, this.clientFiles), new PlanTools({ store, events }), this.sessionMcp, this.mcp]);
    const gate = new ApprovalGate({ store, events, config, approvals: this.approvals }, this.toolSources);
    // Test tools (AGENTD_TEST_TOOLS=1 only) sit outside the approval gate.
    this.tools = process.env.AGENTD_TEST_TOOLS === '1' ? withTestTools(gate, this.processes) : gate;
    const active = new Map<string, ActiveTurn>();
    this.recovery = new Recovery({ store, events, log, liveTurns: active, stopping: this.stopping });
    this.recovery.addStep('approvals', (turn) => this.approvals.recoverTurn(turn.sessionId, turn.turnId));
    const busy = (sessionId: string) => active.has(sessionId);
    this.snapshots = new SnapshotService({ store, events, log, config, dataDir: this.dataDir, hidden, busy });
    this.compactor = new Compactor({ store, events, config, providers, tools: this.tools, busy });
    this.turns = new TurnRunner({ store, events, log, config, providers, tools: this.tools, recovery: this.recovery, active, snapshots: this.snapshots, compactor: this.compactor });
    this.sessions = new SessionService({ store, events, config, providers, cwd: this.cwd, turns: this.turns, snapshots: this.snapshots });
    this.idempotency = new IdempotencyCache(store);
    const table = handlers({
      access, keys: this.keys,
      log, version: this.version, sandbox: this.sandbox, snapshots: this.snapshots, compactor: this.compactor, config, close: () => this.close(),
      sessions: this.sessions, turns: this.turns, approvals: this.approvals, events,
      providers, credentials: this.credentials, oauth: this.oauth, tools: this.tools, mcp: this.mcp, sessionMcp: this.sessionMcp, clientFiles: this.clientFiles,
    });
    // Session affinity (store.affinity): a session's turns and workspace requests only on its node.
    const storeConfig = this.config.get().store;
    if (storeConfig?.affinity && !cluster) this.log.warn('store.affinity applies to a shared store (PostgreSQL) only: ignored');
    const affinity = storeConfig?.affinity && cluster ? new SessionAffinity({ store, cluster, ...(storeConfig.nodeUrl ? { nodeUrl: storeConfig.nodeUrl } : {}) }) : undefined;
    this.dispatcher = new Dispatcher({ log, idempotency: this.idempotency, keys: this.keys, access, events, stopping: this.stopping }, affinity ? affinity.guard(table) : table);
    this.shutdown = new Shutdown({ stop: () => this.stopper.abort(), turns: this.turns, processes: this.processes, events, store, log });
    this.config.onChange((_c, origin) => {
      // A change another node made: its config.updated event reached every subscriber already.
      if (origin === 'local') this.events.append(null, 'config.updated', { config: this.config.public(), projectConfig: this.config.projectState() });
      this.mcp.reconcile(this.config.get().mcpServers);
    });
    this.shutdown.add('mcp', () => Promise.all([this.mcp.closeAll(), this.sessionMcp.closeAll()]).then(() => undefined));
    // Another node asks this one to cancel a turn it runs (session/cancel sent there).
    this.store.cluster?.onCommand((c) => {
      if (c.op === 'cancel') void this.turns.cancel(c.sessionId, c.reason);
      else if (c.op === 'permission') this.approvals.answeredElsewhere(c.permissionId);
      else if (c.op === 'config') this.adoptSharedConfig(this.store).catch((err) => this.log.warn({ err: String(err) }, 'reading the shared config failed'));
    });
  }

  /**
   * Startup work once every component is registered: recover interrupted turns (now and in a
   * periodic sweep), drop expired records (now and every hour), connect the MCP servers marked autoConnect (in
   * the background; a failure becomes a `failed` status).
   */
  async start(): Promise<this> {
    if (this.store.cluster) {
      await this.events.start();
      await this.shareConfig(this.store);
    }
    // In the background: the all-sessions stream of a keyed user then rarely misses the access cache.
    if (await this.keys.count()) void this.access.warm().catch((err) => this.log.warn({ err: String(err) }, 'warming the access cache failed'));
    void this.sandbox.probe(); // once, in the background: initialize and tool/list report the result
    if (!this.lazyDetection) this.openaiProviders.start(); // local model servers on loopback, in the background
    await this.recovery.recoverAll();
    // On a shared store, dead nodes' turns are found within about a lease: sweep every third of it.
    const cluster = this.store.cluster;
    this.recovery.sweep(cluster ? Math.min(timings.recoverySweepMs(), Math.max(200, ((this.config.get().store?.leaseSeconds ?? DEFAULT_STORE.leaseSeconds) * 1000) / 3)) : undefined);
    await this.housekeeping();
    const timer = setInterval(() => void this.housekeeping(), timings.housekeepingMs());
    timer.unref();
    this.stopping.addEventListener('abort', () => clearInterval(timer), { once: true });
    this.mcp.reconcile(this.config.get().mcpServers);
    return this;
  }

  private housekeepingRunning = false;

  /** Drops expired records: idempotency keys, claimed approval answers (a shared store). A failure is logged; the next round tries again. */
  private async housekeeping() {
    if (this.stopping.aborted || this.housekeepingRunning) return; // a slow store: rounds never overlap
    this.housekeepingRunning = true;
    try {
      await this.idempotency.prune();
      await this.approvals.prune();
    } catch (err) {
      if (!this.stopping.aborted) this.log.warn({ err: String(err) }, 'dropping expired records failed');
    } finally {
      this.housekeepingRunning = false;
    }
  }

  /**
   * Several nodes on one database share the user config (all but `store`) in the kv table: the
   * first node seeds it with its own, the others adopt it; every config/update stores it and
   * tells every node (a cluster command to node 0), which adopts it.
   */
  private async shareConfig(store: Store) {
    if (!(await store.kvInsert(SHARED_CONFIG.ns, SHARED_CONFIG.key, JSON.stringify(this.config.shared())))) await this.adoptSharedConfig(store);
    this.config.onSave(async (shared) => {
      try {
        await store.kvSet(SHARED_CONFIG.ns, SHARED_CONFIG.key, JSON.stringify(shared));
        await store.cluster?.command(0, { op: 'config' });
      } catch (err) {
        this.log.error({ err: String(err) }, 'storing the config for the other nodes failed');
      }
    });
  }

  private async adoptSharedConfig(store: Store) {
    const stored = await store.kvGet(SHARED_CONFIG.ns, SHARED_CONFIG.key);
    if (stored === undefined) return;
    try {
      this.config.adopt(JSON.parse(stored) as Config);
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'the config stored in the database is invalid here: kept this node\'s');
    }
  }

  /** One warning (stderr) naming every key of an untrusted agentd.json that does not apply. */
  private warnUntrusted() {
    const p = this.config.projectState();
    if (!p.ignoredKeys.length) return;
    this.log.warn({ file: p.path, ignoredKeys: p.ignoredKeys },
      `${p.path} is not trusted; ignored: ${p.ignoredKeys.join(', ')} (review it, then run \`agentd trust\` in that directory to apply it)`);
  }

  trackPeer(peer: Peer) {
    this.peers.add(peer);
    peer.onClose(() => {
      this.peers.delete(peer);
      this.approvals.peerClosed(peer);
    });
  }

  /** Stops accepting work, ends running turns as interrupted, closes hooks (MCP servers) and child processes, flushes and closes the store (server/shutdown.ts). */
  close(timeoutMs?: number): Promise<void> {
    return this.shutdown.run(timeoutMs);
  }
}
