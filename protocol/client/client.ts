/**
 * AgentClient: the typed client of the agentd protocol, over any connector (stdio, WebSocket,
 * REST+SSE). One method per request, typed event and server-request handlers, and reconnection
 * that resubscribes every followed session from the last seq it saw. No Node APIs.
 */
import { Methods, PROTOCOL_VERSION, type ClientRequests, type EventDataMap, type ServerRequests, type TypedEvent } from '../generated/methods.js';
import type * as T from '../generated/types.js';
import { ConnectionClosedError, RpcResponseError, type Channel, type Connector } from './channel.js';

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface ReconnectOptions {
  /** Attempts before giving up (state 'closed'). Default 20. */
  maxAttempts?: number;
  /** First delay; doubles each attempt. Default 200 ms. */
  initialDelayMs?: number;
  /** Largest delay. Default 5000 ms. */
  maxDelayMs?: number;
}

export interface AgentClientOptions {
  /** Sent in `initialize`. Default `{ name: 'agentd-client' }`. */
  clientInfo?: { name: string; version?: string };
  /** Reconnect (and resubscribe) when the connection drops. Default: off. */
  reconnect?: boolean | ReconnectOptions;
}

export type PermissionHandler = (request: T.PermissionRequestParams, signal: AbortSignal) => Promise<T.PermissionRequestResult> | T.PermissionRequestResult;
type Listener<A extends unknown[]> = (...args: A) => void;

/** A followed event stream: a session, or `*` for every session. */
interface Subscription {
  sessionId?: string;
  /** The newest seq (or id for `*`) seen; resubscription replays after it. */
  last: number;
}

/** The wrapper method names of every client request (a test checks it covers the manifest). */
export const requestWrappers = {
  shutdown: Methods.Shutdown,
  createSession: Methods.SessionCreate,
  listSessions: Methods.SessionList,
  getSession: Methods.SessionGet,
  updateSession: Methods.SessionUpdate,
  listMessages: Methods.SessionMessages,
  forkSession: Methods.SessionFork,
  deleteSession: Methods.SessionDelete,
  sendMessage: Methods.SessionMessage,
  cancel: Methods.SessionCancel,
  sessionDiff: Methods.SessionDiff,
  revertSession: Methods.SessionRevert,
  unrevertSession: Methods.SessionUnrevert,
  compactSession: Methods.SessionCompact,
  shareSession: Methods.SessionShare,
  unshareSession: Methods.SessionUnshare,
  setSessionMcp: Methods.SessionMcp,
  setSessionFiles: Methods.SessionFiles,
  subscribe: Methods.SessionSubscribe,
  unsubscribe: Methods.SessionUnsubscribe,
  listProviders: Methods.ProviderList,
  authProvider: Methods.ProviderAuth,
  oauthAuthorize: Methods.ProviderOauthAuthorize,
  oauthCallback: Methods.ProviderOauthCallback,
  listTools: Methods.ToolList,
  approveTool: Methods.ToolApprove,
  listPermissions: Methods.PermissionList,
  listMcp: Methods.McpList,
  connectMcp: Methods.McpConnect,
  disconnectMcp: Methods.McpDisconnect,
  startMcpAuth: Methods.McpAuthStart,
  finishMcpAuth: Methods.McpAuthCallback,
  removeMcpAuth: Methods.McpAuthRemove,
  listMcpResources: Methods.McpResources,
  readMcpResource: Methods.McpResourceRead,
  listMcpPrompts: Methods.McpPrompts,
  getConfig: Methods.ConfigGet,
  updateConfig: Methods.ConfigUpdate,
  trustProjectConfig: Methods.ConfigTrust,
  listKeys: Methods.KeyList,
  createKey: Methods.KeyCreate,
  revokeKey: Methods.KeyRevoke,
} as const satisfies Record<string, keyof ClientRequests>;

export class AgentClient {
  private channel: Channel | undefined;
  private _state: ConnectionState = 'idle';
  private subs = new Map<string, Subscription>();
  private eventListeners = new Set<Listener<[TypedEvent]>>();
  private stateListeners = new Set<Listener<[ConnectionState, Error | undefined]>>();
  private permissionHandler: PermissionHandler | undefined;
  private answering = new Set<string>();
  private serverRequestHandlers = new Map<string, (params: unknown, signal: AbortSignal) => unknown>();
  private connecting: Promise<T.InitializeResult | undefined> | undefined;
  private stopped = false;
  /** The server's initialize result (undefined over REST). */
  serverInfo: T.InitializeResult | undefined;

  constructor(private connector: Connector, private opts: AgentClientOptions = {}) {}

  get state(): ConnectionState { return this._state; }
  /** 'stdio', 'websocket' or 'rest'. */
  get transport(): string { return this.connector.kind; }

  /** Opens the connection (initialize + initialized) and resubscribes what was followed before. */
  connect(): Promise<T.InitializeResult | undefined> {
    if (this._state === 'connected' && this.channel) return Promise.resolve(this.serverInfo);
    this.stopped = false;
    this.connecting ??= this.open('connecting').finally(() => { this.connecting = undefined; });
    return this.connecting;
  }

  private async open(state: 'connecting' | 'reconnecting') {
    this.setState(state);
    let channel: Channel;
    try {
      channel = await this.connector.connect();
    } catch (err) {
      if (state === 'connecting') this.setState('closed', err as Error);
      throw err;
    }
    channel.onNotification((method, params) => {
      if (method === Methods.SessionEvent) this.handleEvent(params as TypedEvent);
    });
    channel.onRequest(async (method, params, signal) => {
      if (method === Methods.PermissionRequest && this.permissionHandler) {
        const p = params as T.PermissionRequestParams;
        this.answering.add(p.permissionId);
        try {
          return await this.permissionHandler(p, signal);
        } finally {
          this.answering.delete(p.permissionId);
        }
      }
      const other = this.serverRequestHandlers.get(method);
      if (other) return other(params, signal);
      throw new RpcResponseError(-32601, `unhandled server request: ${method}`);
    });
    channel.onClose((err) => this.onChannelClosed(channel, err));
    this.channel = channel;
    try {
      if (channel.handshake) {
        this.serverInfo = (await channel.request(Methods.Initialize, {
          protocolVersion: PROTOCOL_VERSION,
          clientInfo: this.opts.clientInfo ?? { name: 'agentd-client' },
          capabilities: { permissionRequests: Boolean(this.permissionHandler) },
        } satisfies T.InitializeParams)) as T.InitializeResult;
        channel.notify(Methods.Initialized, {});
      }
      for (const sub of this.subs.values()) await this.resubscribe(sub);
    } catch (err) {
      this.channel = undefined;
      await channel.close().catch(() => {});
      if (state === 'connecting') this.setState('closed', err as Error);
      throw err;
    }
    this.setState('connected');
    return this.serverInfo;
  }

  private async resubscribe(sub: Subscription) {
    await this.channel!.request(Methods.SessionSubscribe, { ...(sub.sessionId ? { sessionId: sub.sessionId } : {}), since: sub.last });
  }

  private onChannelClosed(channel: Channel, err: Error | undefined) {
    if (this.channel !== channel) return;
    this.channel = undefined;
    if (this.stopped || err === undefined) {
      this.setState('closed');
      return;
    }
    if (!this.opts.reconnect) {
      this.setState('closed', err);
      return;
    }
    void this.reconnectLoop(err);
  }

  private async reconnectLoop(cause: Error) {
    const o: ReconnectOptions = typeof this.opts.reconnect === 'object' ? this.opts.reconnect : {};
    const max = o.maxAttempts ?? 20;
    let delay = o.initialDelayMs ?? 200;
    for (let attempt = 1; attempt <= max && !this.stopped; attempt++) {
      this.setState('reconnecting', cause);
      await new Promise((r) => setTimeout(r, delay));
      if (this.stopped) break;
      delay = Math.min(delay * 2, o.maxDelayMs ?? 5000);
      try {
        this.connecting = this.open('reconnecting');
        await this.connecting;
        return;
      } catch (err) {
        cause = err as Error;
      } finally {
        this.connecting = undefined;
      }
    }
    if (!this.stopped) this.setState('closed', cause);
  }

  /** Closes the connection for good (stdio: shutdown + exit, the server process ends). */
  async close() {
    this.stopped = true;
    const ch = this.channel;
    this.channel = undefined;
    await ch?.close();
    this.setState('closed');
  }

  private setState(state: ConnectionState, err?: Error) {
    if (state === this._state && !err) return;
    this._state = state;
    for (const l of this.stateListeners) l(state, err);
  }

  /** Called on every state change (with the cause when a connection was lost). */
  onStateChange(listener: (state: ConnectionState, error?: Error) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  // ---- events

  private handleEvent(e: TypedEvent) {
    const key = e.sessionId !== null && this.subs.has(e.sessionId) ? e.sessionId : this.subs.has('*') ? '*' : e.sessionId ?? '*';
    const sub = this.subs.get(key);
    if (sub && e.type !== 'stream.gap') {
      const pos = key === '*' ? e.id : e.seq;
      if (pos <= sub.last) return; // already seen (a replay overlapping what we had)
      sub.last = pos;
    }
    for (const l of this.eventListeners) l(e);
    if (e.type === 'permission.requested' && this.permissionHandler && e.sessionId && !this.answersByRequest()) {
      void this.answerFromEvent(e.sessionId, e.data);
    }
  }

  /** Whether approvals reach us as permission/request (else from events, answered by tool/approve). */
  private answersByRequest() {
    return Boolean(this.channel?.serverRequests && this.channel.handshake);
  }

  private async answerFromEvent(sessionId: string, d: T.PermissionRequestedData) {
    if (this.answering.has(d.permissionId)) return;
    this.answering.add(d.permissionId);
    const abort = new AbortController();
    const off = this.on('permission.resolved', (r) => { if (r.permissionId === d.permissionId) abort.abort(); });
    try {
      const answer = await this.permissionHandler!({ sessionId, permissionId: d.permissionId, turnId: d.turnId, callId: d.callId, tool: d.tool, input: d.input, summary: d.summary }, abort.signal);
      if (abort.signal.aborted) return;
      await this.approveTool({ permissionId: d.permissionId, decision: answer.decision, toolName: d.tool, ...(answer.reason ? { reason: answer.reason } : {}) })
        .catch((err) => { if (!(err instanceof RpcResponseError)) throw err; }); // answered elsewhere first
    } finally {
      off();
      this.answering.delete(d.permissionId);
    }
  }

  /** Every event of every followed session, in order, without duplicates. */
  onEvent(listener: (event: TypedEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Events of one type, with their typed data. */
  on<K extends keyof EventDataMap>(type: K, listener: (data: EventDataMap[K], event: Extract<TypedEvent, { type: K }>) => void): () => void {
    return this.onEvent((e) => { if (e.type === type) listener(e.data as EventDataMap[K], e as Extract<TypedEvent, { type: K }>); });
  }

  /**
   * Answers approvals (permission/request on stdio and WebSocket; permission.requested events
   * answered through tool/approve over REST). Set it before connect() so `initialize` declares it.
   */
  onPermissionRequest(handler: PermissionHandler | undefined) {
    this.permissionHandler = handler;
  }

  /**
   * Answers a server-to-client request by method, typed by the manifest. `permission/request`
   * is the same as onPermissionRequest (which also covers REST).
   */
  onServerRequest<M extends keyof ServerRequests>(method: M, handler: ((params: ServerRequests[M]['params'], signal: AbortSignal) => Promise<ServerRequests[M]['result']> | ServerRequests[M]['result']) | undefined) {
    if (method === Methods.PermissionRequest) this.permissionHandler = handler as PermissionHandler | undefined;
    else if (handler) this.serverRequestHandlers.set(method, handler as (params: unknown, signal: AbortSignal) => unknown);
    else this.serverRequestHandlers.delete(method);
  }

  // ---- requests

  /** Any client request by its method name, typed by the manifest. */
  async request<M extends keyof ClientRequests>(method: M, params: ClientRequests[M]['params'], signal?: AbortSignal): Promise<ClientRequests[M]['result']> {
    if (!this.channel) {
      if (this.connecting) await this.connecting.catch(() => {});
      if (!this.channel) throw new ConnectionClosedError(this._state === 'reconnecting' ? 'reconnecting' : 'not connected');
    }
    return (await this.channel.request(method, params, signal)) as ClientRequests[M]['result'];
  }

  shutdown() { return this.request(Methods.Shutdown, {}); }
  createSession(params: T.SessionCreateParams = {}) { return this.request(Methods.SessionCreate, params); }
  /** A page of sessions, the most recently updated first (`nextCursor` continues). */
  listSessions(params: T.SessionListParams = {}) { return this.request(Methods.SessionList, params); }
  /** The session and its newest 50 messages (`messagesCursor`: listMessages for older ones). */
  getSession(sessionId: string) { return this.request(Methods.SessionGet, { sessionId }); }
  /** Rename, or change provider, model or policy (from the next turn). */
  updateSession(params: T.SessionUpdateParams) { return this.request(Methods.SessionUpdate, params); }
  /** A page of messages, the newest page first; pass `nextCursor` as `before` for the older one. */
  listMessages(params: T.SessionMessagesParams) { return this.request(Methods.SessionMessages, params); }
  forkSession(params: T.SessionForkParams) { return this.request(Methods.SessionFork, params); }
  /** Approvals waiting for an answer. */
  listPermissions(params: T.PermissionListParams = {}) { return this.request(Methods.PermissionList, params); }
  deleteSession(sessionId: string) { return this.request(Methods.SessionDelete, { sessionId }); }
  /** Runs a turn; resolves with the assistant message (or, with `async: true`, the accepted turn). Abort to cancel. */
  sendMessage(params: T.SessionMessageParams, signal?: AbortSignal) { return this.request(Methods.SessionMessage, params, signal); }
  cancel(sessionId: string) { return this.request(Methods.SessionCancel, { sessionId }); }
  /** The files a turn (or the whole session) changed, from its workspace snapshots. */
  sessionDiff(params: T.SessionDiffParams) { return this.request(Methods.SessionDiff, params); }
  revertSession(params: T.SessionRevertParams) { return this.request(Methods.SessionRevert, params); }
  unrevertSession(sessionId: string) { return this.request(Methods.SessionUnrevert, { sessionId }); }
  compactSession(sessionId: string) { return this.request(Methods.SessionCompact, { sessionId }); }
  /** Lets another user see and drive a session you own. */
  shareSession(sessionId: string, user: string) { return this.request(Methods.SessionShare, { sessionId, user }); }
  /** Takes a user's access to a session you own away. */
  unshareSession(sessionId: string, user: string) { return this.request(Methods.SessionUnshare, { sessionId, user }); }
  /** The session's own MCP servers (replaces them; they close with this connection). */
  setSessionMcp(params: T.SessionMcpParams) { return this.request(Methods.SessionMcp, params); }
  /** Serve the session's file tools from this client (answer `file/read` / `file/write` with onRequest). */
  setSessionFiles(params: T.SessionFilesParams) { return this.request(Methods.SessionFiles, params); }

  /**
   * Follows a session's events (or all, without sessionId), replaying after `since` first.
   * The client remembers it: after a reconnect it resubscribes from the last seq it saw.
   */
  async subscribe(params: T.SessionSubscribeParams = {}) {
    const key = params.sessionId ?? '*';
    const sub: Subscription = { sessionId: params.sessionId, last: params.since ?? 0 };
    const prev = this.subs.get(key);
    this.subs.set(key, sub);
    try {
      const r = await this.request(Methods.SessionSubscribe, params);
      // Live only: start after what existed then. With since: events may already have moved `last`.
      if (params.since === undefined) sub.last = Math.max(sub.last, r.lastSeq);
      return r;
    } catch (err) {
      if (prev) this.subs.set(key, prev); else this.subs.delete(key);
      throw err;
    }
  }

  async unsubscribe(params: T.SessionUnsubscribeParams = {}) {
    this.subs.delete(params.sessionId ?? '*');
    return this.request(Methods.SessionUnsubscribe, params);
  }

  /** The last seq (or id, for all sessions) seen for a followed stream. */
  lastSeen(sessionId?: string): number | undefined {
    return this.subs.get(sessionId ?? '*')?.last;
  }

  listProviders() { return this.request(Methods.ProviderList, {}); }
  authProvider(providerId: string, apiKey: string) { return this.request(Methods.ProviderAuth, { providerId, apiKey }); }
  oauthAuthorize(params: T.ProviderOauthAuthorizeParams) { return this.request(Methods.ProviderOauthAuthorize, params); }
  oauthCallback(params: T.ProviderOauthCallbackParams) { return this.request(Methods.ProviderOauthCallback, params); }
  listTools(sessionId?: string) { return this.request(Methods.ToolList, sessionId ? { sessionId } : {}); }
  approveTool(params: T.ToolApproveParams) { return this.request(Methods.ToolApprove, params); }
  listMcp() { return this.request(Methods.McpList, {}); }
  connectMcp(name: string) { return this.request(Methods.McpConnect, { name }); }
  disconnectMcp(name: string) { return this.request(Methods.McpDisconnect, { name }); }
  startMcpAuth(params: T.McpAuthStartParams) { return this.request(Methods.McpAuthStart, params); }
  finishMcpAuth(params: T.McpAuthCallbackParams) { return this.request(Methods.McpAuthCallback, params); }
  removeMcpAuth(name: string) { return this.request(Methods.McpAuthRemove, { name }); }
  listMcpResources(params: T.McpServerFilterParams = {}) { return this.request(Methods.McpResources, params); }
  readMcpResource(params: T.McpResourceReadParams) { return this.request(Methods.McpResourceRead, params); }
  listMcpPrompts(params: T.McpServerFilterParams = {}) { return this.request(Methods.McpPrompts, params); }
  getConfig() { return this.request(Methods.ConfigGet, {}); }
  updateConfig(params: T.ConfigUpdateParams) { return this.request(Methods.ConfigUpdate, params); }
  /** Trust the workspace's agentd.json whose `projectConfig.hash` the user was shown. */
  trustProjectConfig(params: T.ConfigTrustParams) { return this.request(Methods.ConfigTrust, params); }
  /** API keys with their users (admin key). */
  listKeys() { return this.request(Methods.KeyList, {}); }
  /** A new API key for a user; the secret is in this answer only (admin key). */
  createKey(params: T.KeyCreateParams) { return this.request(Methods.KeyCreate, params); }
  /** Revokes keys by id or name (admin key). */
  revokeKey(id: string) { return this.request(Methods.KeyRevoke, { id }); }
}
