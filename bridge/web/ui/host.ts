/**
 * What both hosts of the chat UI do with the client library, written once: open a session (history,
 * then its live events from where the history ends), the most recent one on start, new sessions with
 * the picked model, send (text and images), cancel, the sidebar's list / search / rename / delete /
 * fork / revert, approvals asked in the view, and the provider and model picker (starting on the
 * config's default). The browser host (bridge/web/main.ts) and the VS Code one
 * (extension/src/controller.ts) add only their transport, storage and native pickers.
 */
import {
  Methods, type AgentClient, type PermissionDecision, type PermissionRequestParams, type PermissionRequestResult, type SessionCreateParams,
  type TypedEvent,
} from '../../../protocol/client/index.js';
import type { FromView, ToView } from './messages.js';

export interface ChatSessionHostDeps {
  /** The connected client (connecting first if need be). */
  client(): Promise<AgentClient>;
  /** To the UI. */
  post(msg: ToView): void;
  /** Keeps the current session id (localStorage, workspaceState). */
  saveSessionId(id: string | undefined): void | Promise<void>;
  /** Extra session/create params (the workspace root in VS Code). */
  createParams?(): Partial<SessionCreateParams>;
  /** The model for new sessions when the user picked none (default: the config's). */
  preferredModel?(): { provider?: string; model?: string };
  /** The reason sent when the user denies without giving one. */
  denyReason: string;
  /**
   * An MCP server's OAuth sign-in: open `mcp/auth/start`'s URL for the user (the page: a browser
   * window; VS Code: vscode.env.openExternal) with a redirect this host receives, then
   * `mcp/auth/callback`. Without it the sidebar's Sign in says this host cannot.
   */
  mcpSignIn?(client: AgentClient, name: string): Promise<void>;
}

/** What a server without an initialize result (REST: no handshake) is taken to offer: the page's own server, so all of it. */
const ALL_DECISIONS: PermissionDecision[] = ['allow_once', 'allow_always', 'deny', 'deny_always'];

/** At most this many sessions are listed in the sidebar. */
const LIST_LIMIT = 100;
/** Messages per older page of the transcript. */
const PAGE_LIMIT = 50;

export class ChatSessionHost {
  sessionId: string | undefined;
  private pending = new Map<string, (r: PermissionRequestResult) => void>();
  private picked: { provider: string; model: string } | undefined;
  private search: string | undefined;

  constructor(private deps: ChatSessionHostDeps, sessionId?: string) {
    this.sessionId = sessionId;
  }

  /** After a (re)connect: capabilities, providers, the session (the stored one, else the most recent), the list. */
  async start() {
    const client = await this.deps.client();
    const caps = client.serverInfo?.capabilities;
    this.deps.post(caps
      ? { type: 'capabilities', methods: caps.methods, decisions: caps.permissionDecisions ?? ['allow_once', 'allow_always', 'deny'], snapshots: caps.snapshots?.enabled ?? caps.methods.includes(Methods.SessionDiff) }
      : { type: 'capabilities', methods: Object.values(Methods), decisions: ALL_DECISIONS, snapshots: true });
    await this.loadProviders();
    let opened = false;
    if (this.sessionId) opened = await this.openSession(this.sessionId).then(() => true, () => false);
    if (!opened) {
      const { sessions } = await client.listSessions({ limit: 1 });
      if (sessions[0]) await this.openSession(sessions[0].id);
      else { await this.setSession(undefined); this.deps.post({ type: 'noSession' }); }
    }
    await this.listSessions();
  }

  /** The picker: every provider's models, on the user's pick, else the host's preference, else the config's default. */
  async loadProviders() {
    const client = await this.deps.client();
    const [{ providers }, config] = await Promise.all([client.listProviders(), client.getConfig().catch(() => undefined)]);
    const pref = this.deps.preferredModel?.() ?? {};
    const provider = this.picked?.provider ?? pref.provider ?? config?.config.defaultProvider ?? providers[0]?.id;
    const p = providers.find((x) => x.id === provider) ?? providers[0];
    const model = this.picked?.model ?? (pref.provider === undefined || pref.provider === p?.id ? pref.model : undefined)
      ?? (config?.config.defaultModel && p?.models.includes(config.config.defaultModel) ? config.config.defaultModel : p?.defaultModel);
    this.deps.post({ type: 'providers', providers, selected: p && model ? `${p.id}/${model}` : undefined });
  }

  private async setSession(id: string | undefined) {
    this.sessionId = id;
    await this.deps.saveSessionId(id);
  }

  /** Shows a session: history, then live events from where the history ends. */
  async openSession(id: string) {
    const client = await this.deps.client();
    const previous = this.sessionId;
    if (previous && previous !== id && client.lastSeen(previous) !== undefined) await client.unsubscribe({ sessionId: previous }).catch(() => undefined);
    const { session, messages, messagesCursor } = await client.getSession(id);
    await this.setSession(id);
    this.deps.post({ type: 'history', session, messages, messagesCursor });
    if (client.lastSeen(id) === undefined) await client.subscribe({ sessionId: id, since: session.lastSeq });
    return session;
  }

  async newSession(name?: string) {
    const client = await this.deps.client();
    const session = await client.createSession({ ...(name ? { name } : {}), ...(this.picked ?? this.deps.preferredModel?.() ?? {}), ...this.deps.createParams?.() });
    await this.openSession(session.id);
    await this.listSessions();
    return session;
  }

  async send(text: string, images?: Array<{ mediaType: string; data: string }>) {
    const client = await this.deps.client();
    if (!this.sessionId) await this.newSession();
    const parts = [...(text ? [{ type: 'text' as const, text }] : []), ...(images ?? []).map((i) => ({ type: 'image' as const, mediaType: i.mediaType, data: i.data }))];
    const content = images?.length ? parts as [typeof parts[number], ...typeof parts] : text;
    return client.sendMessage({ sessionId: this.sessionId!, content, async: true });
  }

  async cancel() {
    if (!this.sessionId) return undefined;
    const r = await (await this.deps.client()).cancel(this.sessionId);
    if (!r.cancelled) this.deps.post({ type: 'error', message: 'no turn is running' });
    return r;
  }

  async listSessions(search = this.search) {
    this.search = search;
    const { sessions } = await (await this.deps.client()).listSessions({ limit: LIST_LIMIT, ...(search ? { search } : {}) });
    this.deps.post({ type: 'sessions', sessions, currentId: this.sessionId, search });
  }

  async listMcp() {
    const { servers } = await (await this.deps.client()).listMcp();
    this.deps.post({ type: 'mcp', servers });
  }

  /** Events of the current session go to the view; after a gap the history is shown again. */
  onEvent(e: TypedEvent) {
    if (e.type === 'mcp.status') { void this.listMcp().catch(() => undefined); return; }
    if (!e.sessionId || e.sessionId !== this.sessionId) return;
    if (e.type === 'stream.gap') void this.openSession(e.sessionId).catch(() => undefined);
    else this.deps.post({ type: 'event', event: e });
  }

  /** An approval asked in the view until answered there, or resolved elsewhere (then: deny, unused). */
  askApproval(request: PermissionRequestParams, signal: AbortSignal): Promise<PermissionRequestResult> {
    return new Promise((resolve) => {
      this.pending.set(request.permissionId, resolve);
      signal.addEventListener('abort', () => {
        if (this.pending.delete(request.permissionId)) {
          this.deps.post({ type: 'permissionClosed', permissionId: request.permissionId });
          resolve({ decision: 'deny', reason: 'no longer pending' });
        }
      }, { once: true });
      this.deps.post({ type: 'permission', request });
    });
  }

  answer(permissionId: string, decision: PermissionDecision, reason?: string) {
    const resolve = this.pending.get(permissionId);
    if (!resolve) return;
    this.pending.delete(permissionId);
    this.deps.post({ type: 'permissionClosed', permissionId, decision, by: 'you' });
    resolve(decision === 'deny' || decision === 'deny_always' ? { decision, reason: reason ?? this.deps.denyReason } : { decision });
  }

  /** The UI's messages both hosts answer the same way; false for the others (ready, the host's own). */
  handle(msg: FromView): boolean {
    const run = (p: Promise<unknown>) => { void p.catch((err: Error) => this.deps.post({ type: 'error', message: err.message })); };
    const client = () => this.deps.client();
    switch (msg.type) {
      case 'send': run(this.send(msg.text, msg.images)); return true;
      case 'cancel': run(this.cancel()); return true;
      case 'newSession': run(this.newSession()); return true;
      case 'listSessions': run(this.listSessions(msg.search ?? '')); return true;
      case 'openSession': run(this.openSession(msg.sessionId)); return true;
      case 'renameSession': run(client().then((c) => c.updateSession({ sessionId: msg.sessionId, name: msg.name })).then(() => this.listSessions())); return true;
      case 'deleteSession': run(client().then((c) => c.deleteSession(msg.sessionId)).then(async () => {
        if (msg.sessionId === this.sessionId) {
          await this.setSession(undefined);
          await this.start();
        } else await this.listSessions();
      })); return true;
      case 'forkSession': run(client().then((c) => c.forkSession({ sessionId: msg.sessionId, messageId: msg.messageId }))
        .then((s) => this.openSession(s.id)).then(() => this.listSessions())); return true;
      // The view marks what was reverted from the session.reverted / session.unreverted events.
      case 'revertSession': run(client().then((c) => c.request(Methods.SessionRevert, { sessionId: msg.sessionId, messageId: msg.messageId }))); return true;
      case 'unrevertSession': run(client().then((c) => c.request(Methods.SessionUnrevert, { sessionId: msg.sessionId }))); return true;
      case 'compactSession': run(client().then((c) => c.request(Methods.SessionCompact, { sessionId: msg.sessionId }))); return true;
      case 'diff': run(client().then((c) => c.request(Methods.SessionDiff, { sessionId: msg.sessionId, ...(msg.turnId ? { turnId: msg.turnId } : {}) }))
        .then((r) => this.deps.post({ type: 'diff', sessionId: msg.sessionId, ...(msg.turnId ? { turnId: msg.turnId } : {}), files: r.files, ...(r.skipped ? { skipped: r.skipped } : {}) }))); return true;
      case 'loadOlder': run(client().then((c) => c.listMessages({ sessionId: msg.sessionId, before: msg.before, limit: PAGE_LIMIT }))
        .then((r) => this.deps.post({ type: 'older', sessionId: msg.sessionId, messages: r.messages, nextCursor: r.nextCursor }))); return true;
      case 'listMcp': run(this.listMcp()); return true;
      case 'mcpSignIn': run(client().then((c) => {
        if (!this.deps.mcpSignIn) throw new Error('sign-in is not available here: use `agentd mcp login`');
        return this.deps.mcpSignIn(c, msg.name);
      }).finally(() => this.listMcp().catch(() => undefined))); return true;
      case 'selectModel': this.picked = { provider: msg.provider, model: msg.model }; return true;
      case 'approve': this.answer(msg.permissionId, msg.decision, msg.reason); return true;
      default: return false;
    }
  }
}
