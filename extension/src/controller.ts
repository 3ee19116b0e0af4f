/**
 * The extension's logic: one agentd server per window, spawned as `agentd serve --stdio` and
 * driven through the typed client library; commands, the chat view, approvals, API keys in
 * SecretStorage, the status bar and the Output channel.
 */
import * as vscode from 'vscode';
import {
  AgentClient, stdioConnector, type ConnectionState, type PermissionDecision,
  type PermissionRequestParams, type PermissionRequestResult, type TypedEvent,
} from '../../protocol/client/node.js';
import { ChatSessionHost } from '../../bridge/web/ui/host.js';
import { ChatView, type FromView } from './chatView.js';
import { mcpSignIn } from './mcpSignIn.js';
import { serverCommand } from './server.js';

export type ApprovalBehavior = 'askInView' | 'askModal' | 'allowAll' | 'denyAll';
const SECRET_PREFIX = 'agentd.apiKey.';
const KEYED_PROVIDERS = 'agentd.keyedProviders';
const CURRENT_SESSION = 'agentd.sessionId';

const DECISIONS: Array<[string, PermissionDecision]> = [['Allow once', 'allow_once'], ['Allow always', 'allow_always'], ['Deny', 'deny'], ['Deny always', 'deny_always']];

export class AgentdController implements vscode.Disposable {
  readonly output: vscode.OutputChannel;
  readonly status: vscode.StatusBarItem;
  readonly view: ChatView;
  /** What the chat view asks, answered as the page at `/` answers it (bridge/web/ui/host.ts). */
  readonly chat: ChatSessionHost;
  client: AgentClient | undefined;
  private disposables: vscode.Disposable[] = [];
  private stopping = false;
  private starting: Promise<void> | undefined;

  constructor(private context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel('agentd');
    this.status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 100);
    this.status.command = 'agentd.showSessions';
    this.status.name = 'agentd';
    this.setStatus('idle');
    this.status.show();
    this.view = new ChatView(context.extensionUri, (msg) => this.onViewMessage(msg));
    this.chat = new ChatSessionHost({
      client: () => this.ready(),
      post: (m) => this.view.post(m),
      saveSessionId: async (id) => { await this.context.workspaceState.update(CURRENT_SESSION, id); },
      createParams: () => (this.workspaceRoot() ? { workspaceRoot: this.workspaceRoot() } : {}),
      preferredModel: () => {
        const s = this.settings();
        return { ...(s.defaultProvider ? { provider: s.defaultProvider } : {}), ...(s.defaultModel ? { model: s.defaultModel } : {}) };
      },
      denyReason: 'denied by the user',
      mcpSignIn: (client, name) => mcpSignIn(client, name),
    }, context.workspaceState.get<string>(CURRENT_SESSION));
    this.disposables.push(this.output, this.status,
      vscode.window.registerWebviewViewProvider(ChatView.viewType, this.view, { webviewOptions: { retainContextWhenHidden: true } }));
    const commands: Record<string, (...args: unknown[]) => unknown> = {
      'agentd.newSession': () => this.newSession(),
      'agentd.sendMessage': (text?: unknown) => this.sendMessage(typeof text === 'string' ? text : undefined),
      'agentd.cancelTurn': () => this.cancelTurn(),
      'agentd.showSessions': () => this.showSessions(),
      'agentd.pickModel': () => this.pickModel(),
      'agentd.setApiKey': () => this.setApiKey(),
      'agentd.restartServer': () => this.restart(),
      'agentd.trustProjectConfig': () => this.trustProjectConfig(),
    };
    for (const [id, fn] of Object.entries(commands)) {
      this.disposables.push(vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          return await fn(...args);
        } catch (err) {
          this.output.appendLine(`${id}: ${(err as Error).message}`);
          void vscode.window.showErrorMessage(`agentd: ${(err as Error).message}`);
          return undefined;
        }
      }));
    }
    // A window VS Code trusts now may read agentd.json: restart the server without --no-project-config.
    this.disposables.push(vscode.workspace.onDidGrantWorkspaceTrust(() => {
      if (this.client) void this.restart();
    }));
  }

  private settings() {
    const c = vscode.workspace.getConfiguration('agentd');
    return {
      serverPath: c.get<string>('serverPath', ''),
      nodePath: c.get<string>('nodePath', ''),
      dataDir: c.get<string>('dataDir', ''),
      defaultProvider: c.get<string>('defaultProvider', ''),
      defaultModel: c.get<string>('defaultModel', ''),
      approvalBehavior: c.get<ApprovalBehavior>('approvalBehavior', 'askInView'),
    };
  }

  private workspaceRoot(): string | undefined {
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  }

  /** Starts the server (once; concurrent callers share the start). */
  start(): Promise<void> {
    if (this.client?.state === 'connected') return Promise.resolve();
    this.starting ??= this.doStart().finally(() => { this.starting = undefined; });
    return this.starting;
  }

  private async doStart() {
    const s = this.settings();
    const cmd = serverCommand({ ...s, projectConfig: vscode.workspace.isTrusted }, this.context.extensionUri.fsPath);
    this.output.appendLine(`starting ${cmd.command} ${cmd.args.join(' ')}`);
    const client = new AgentClient(stdioConnector({
      command: cmd.command, args: cmd.args, env: cmd.env, cwd: this.workspaceRoot(),
      onStderr: (text) => this.output.append(text),
      onSpawn: (proc) => this.output.appendLine(`agentd started (pid ${proc.pid})`),
    }), { clientInfo: { name: 'agentd-vscode', version: String(this.context.extension?.packageJSON?.version ?? '0') } });
    client.onPermissionRequest((req, signal) => this.askApproval(req, signal));
    client.onStateChange((state, err) => this.onState(client, state, err));
    client.onEvent((e) => this.onEvent(e));
    this.client = client;
    this.stopping = false;
    await client.connect();
    await this.pushStoredKeys();
    this.offerTrust(client);
    if (this.sessionId) {
      try {
        await this.openSession(this.sessionId);
      } catch {
        await this.context.workspaceState.update(CURRENT_SESSION, undefined);
        this.chat.sessionId = undefined;
      }
    }
  }

  get sessionId(): string | undefined {
    return this.chat.sessionId;
  }

  private onState(client: AgentClient, state: ConnectionState, err?: Error) {
    if (client !== this.client) return;
    this.setStatus(state);
    this.view.post({ type: 'state', state });
    if (state === 'closed' && err && !this.stopping) {
      this.output.appendLine(`agentd stopped: ${err.message}`);
      void vscode.window.showErrorMessage(`agentd server stopped: ${err.message}`, 'Restart').then((choice) => {
        if (choice === 'Restart') void vscode.commands.executeCommand('agentd.restartServer');
      });
    }
  }

  private setStatus(state: ConnectionState | 'idle') {
    const label: Record<string, string> = { idle: 'not started', connecting: 'starting', connected: 'ready', reconnecting: 'reconnecting', closed: 'stopped' };
    this.status.text = `$(hubot) agentd: ${label[state] ?? state}`;
    this.status.tooltip = `agentd server: ${label[state] ?? state}. Click to show sessions.`;
  }

  /** An untrusted agentd.json in a trusted window: say what is ignored and offer to trust it. */
  private offerTrust(client: AgentClient) {
    const p = client.serverInfo?.projectConfig;
    if (!vscode.workspace.isTrusted || !p?.present || p.trusted || !p.ignoredKeys.length) return;
    this.output.appendLine(`${p.path} is not trusted; ignored: ${p.ignoredKeys.join(', ')}`);
    void vscode.window.showWarningMessage(`agentd: this workspace's agentd.json is not trusted; ignored: ${p.ignoredKeys.join(', ')}`, 'Review and trust…')
      .then((choice) => { if (choice) void vscode.commands.executeCommand('agentd.trustProjectConfig'); });
  }

  /**
   * "Trust this workspace's agentd.json": shows what trusting would apply, asks, and calls
   * config/trust with the hash of the content shown (the server refuses if it changed since).
   * Only in a window VS Code trusts.
   */
  async trustProjectConfig() {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('agentd: trust this workspace in VS Code first (Manage Workspace Trust)');
      return undefined;
    }
    const client = await this.ready();
    const { projectConfig: p } = await client.getConfig();
    if (!p.present || !p.hash) {
      void vscode.window.showInformationMessage(`agentd: there is no ${p.path}`);
      return p;
    }
    if (p.trusted) {
      void vscode.window.showInformationMessage('agentd: this workspace\'s agentd.json is already trusted');
      return p;
    }
    const choice = await vscode.window.showWarningMessage(
      `Trust ${p.path}? It can start MCP servers (run commands), loosen approvals, open the server to other origins and send your API key elsewhere.`,
      { modal: true, detail: `Ignored until trusted: ${p.ignoredKeys.join(', ') || '(nothing)'}\nsha256 ${p.hash}` },
      'Trust');
    if (choice !== 'Trust') return undefined;
    const r = await client.trustProjectConfig({ hash: p.hash });
    void vscode.window.showInformationMessage('agentd: agentd.json is trusted and applied');
    return r.projectConfig;
  }

  /** Restarts the server; the current session is reopened (sessions live in the data dir). */
  async restart() {
    await this.stop();
    await this.start();
    void vscode.window.showInformationMessage('agentd server restarted');
  }

  async stop() {
    this.stopping = true;
    const c = this.client;
    this.client = undefined;
    await c?.close();
    this.setStatus('closed');
  }

  private async ready(): Promise<AgentClient> {
    await this.start();
    return this.client!;
  }

  /** Shows a session in the view (history, then live events from where the history ends). */
  openSession(id: string) {
    return this.chat.openSession(id);
  }

  /** A new session with the model picked in the view, else the settings' (agentd.defaultProvider / defaultModel), else the config's. */
  async newSession(name?: string) {
    const session = await this.chat.newSession(name);
    await this.revealView();
    return session;
  }

  /** Opens the chat view (VS Code's generated `<view>.focus` command) unless it is showing. */
  async revealView() {
    if (this.view.visible) return;
    await vscode.commands.executeCommand(`${ChatView.viewType}.focus`).then(undefined, () => undefined);
  }

  /** Sends a message to the current session (a new one if none); the reply streams into the view. */
  async sendMessage(text?: string) {
    const content = text ?? await vscode.window.showInputBox({ prompt: 'Message to agentd', placeHolder: 'Ask the agent…', ignoreFocusOut: true });
    if (!content) return undefined;
    if (!this.sessionId) await this.newSession();
    await this.revealView();
    return this.chat.send(content);
  }

  async cancelTurn() {
    if (!this.sessionId) return undefined;
    const client = await this.ready();
    const r = await client.cancel(this.sessionId);
    if (!r.cancelled) void vscode.window.showInformationMessage('agentd: no turn is running');
    return r;
  }

  async showSessions() {
    const client = await this.ready();
    const { sessions } = await client.listSessions();
    const items = sessions.map((s) => ({
      label: s.name || s.id, description: `${s.provider}/${s.model}${s.status === 'running' ? ' · running' : ''}`,
      detail: `${s.id}${s.id === this.sessionId ? ' · current' : ''}`, id: s.id,
    }));
    const pick = await vscode.window.showQuickPick([{ label: '$(add) New session', id: '' }, ...items], { placeHolder: 'agentd sessions' });
    if (!pick) return undefined;
    if (!pick.id) return this.newSession();
    return this.openSession(pick.id);
  }

  /** Picks provider + model for new sessions (stored in the settings, never a key). */
  async pickModel() {
    const client = await this.ready();
    const { providers } = await client.listProviders();
    const items = providers.flatMap((p) => p.models.map((m) => ({
      label: `${p.id}/${m}`, description: `${p.name}${m === p.defaultModel ? ' · default' : ''}${p.authenticated ? '' : ' · needs a key'}`, provider: p.id, model: m,
    })));
    const pick = await vscode.window.showQuickPick(items, { placeHolder: 'Provider and model for new sessions' });
    if (!pick) return undefined;
    const c = vscode.workspace.getConfiguration('agentd');
    await c.update('defaultProvider', pick.provider, vscode.ConfigurationTarget.Global);
    await c.update('defaultModel', pick.model, vscode.ConfigurationTarget.Global);
    this.chat.handle({ type: 'selectModel', provider: pick.provider, model: pick.model });
    void this.chat.loadProviders().catch(() => undefined);
    void vscode.window.showInformationMessage(`agentd: new sessions will use ${pick.provider}/${pick.model}`);
    return { provider: pick.provider, model: pick.model };
  }

  /** Stores a provider's API key in SecretStorage and gives it to the server (provider/auth). */
  async setApiKey(providerId?: string, apiKey?: string) {
    const client = await this.ready();
    if (!providerId) {
      const { providers } = await client.listProviders();
      const pick = await vscode.window.showQuickPick(
        providers.filter((p) => p.authMethods.includes('apiKey')).map((p) => ({ label: p.id, description: p.authenticated ? 'has a key' : 'no key', id: p.id })),
        { placeHolder: 'Provider to set the API key for' });
      if (!pick) return undefined;
      providerId = pick.id;
    }
    apiKey ??= await vscode.window.showInputBox({ prompt: `API key for ${providerId}`, password: true, ignoreFocusOut: true });
    if (!apiKey) return undefined;
    const r = await client.authProvider(providerId, apiKey);
    await this.context.secrets.store(SECRET_PREFIX + providerId, apiKey);
    const keyed = new Set(this.context.globalState.get<string[]>(KEYED_PROVIDERS, []));
    keyed.add(providerId);
    await this.context.globalState.update(KEYED_PROVIDERS, [...keyed]);
    void vscode.window.showInformationMessage(`agentd: API key for ${providerId} saved`);
    return r;
  }

  /** After a (re)start: give the server every key kept in SecretStorage. */
  private async pushStoredKeys() {
    for (const id of this.context.globalState.get<string[]>(KEYED_PROVIDERS, [])) {
      const key = await this.context.secrets.get(SECRET_PREFIX + id);
      if (!key) continue;
      await this.client!.authProvider(id, key).catch((err: Error) => this.output.appendLine(`provider/auth ${id}: ${err.message}`));
    }
  }

  private onEvent(e: TypedEvent) {
    // The current session's events go to the view (after a gap: its stored history again).
    this.chat.onEvent(e);
  }

  /** permission/request from the server: answered per `agentd.approvalBehavior`. */
  async askApproval(req: PermissionRequestParams, signal: AbortSignal): Promise<PermissionRequestResult> {
    const mode = this.settings().approvalBehavior;
    this.output.appendLine(`approval asked: ${req.tool} (${req.summary})`);
    if (mode === 'allowAll') return { decision: 'allow_once' };
    if (mode === 'denyAll') return { decision: 'deny', reason: 'denied by the agentd.approvalBehavior setting' };
    if (mode === 'askInView' && this.view.visible && req.sessionId === this.sessionId) return this.chat.askApproval(req, signal);
    const choice = await vscode.window.showWarningMessage(
      `agentd wants to run ${req.tool}: ${req.summary}`,
      { modal: true, detail: JSON.stringify(req.input, null, 2) },
      ...this.decisions().map(([label]) => label));
    const decision = this.decisions().find(([label]) => label === choice)?.[1] ?? 'deny';
    return decision === 'deny' || decision === 'deny_always' ? { decision, reason: 'denied by the user' } : { decision };
  }

  /** The modal's choices: Deny always only where the server takes deny_always. */
  private decisions() {
    const offered = this.client?.serverInfo?.capabilities.permissionDecisions ?? ['allow_once', 'allow_always', 'deny'];
    return DECISIONS.filter(([, d]) => offered.includes(d));
  }

  private onViewMessage(msg: FromView) {
    const run = (p: Promise<unknown>) => p.catch((err: Error) => {
      this.view.post({ type: 'error', message: err.message });
    });
    switch (msg.type) {
      case 'ready':
        void run((async () => {
          await this.start();
          this.view.post({ type: 'state', state: this.client?.state ?? 'idle' });
          await this.chat.start();
        })());
        break;
      // The model picked in the view is also the settings' choice for new sessions.
      case 'selectModel': {
        this.chat.handle(msg);
        const c = vscode.workspace.getConfiguration('agentd');
        void run(Promise.resolve(c.update('defaultProvider', msg.provider, vscode.ConfigurationTarget.Global))
          .then(() => c.update('defaultModel', msg.model, vscode.ConfigurationTarget.Global)));
        break;
      }
      default: this.chat.handle(msg);
    }
  }

  dispose() {
    void this.stop();
    for (const d of this.disposables) d.dispose();
  }
}
