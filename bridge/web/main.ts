/**
 * The chat page's host in a browser. The chat UI is bridge/web/ui (chat.js), the same module the
 * VS Code webview runs: it renders what it is posted (ToView) and posts back what the user does
 * (FromView) through `acquireVsCodeApi()`, which this file provides. What a host does with the client
 * library is shared too (ChatSessionHost); this file adds the transport (WebSocket /rpc or REST + SSE
 * /v1, with an optional API key), the page's bar, and MCP sign-in in a browser window (the OAuth
 * redirect comes back to this page, `/?mcpAuth=<server>`, which hands the code over a same-origin
 * BroadcastChannel to the page that asked). Bundled by bridge/web/build.mjs into dist/web/app.js.
 */
import { AgentClient, Methods, restConnector, RpcResponseError, websocketConnector } from '../../protocol/client/index.js';
import { ChatSessionHost } from './ui/host.js';
import type { FromView, ToView } from './ui/messages.js';

type Transport = 'websocket' | 'rest';
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const store = {
  get: (k: string) => { try { return localStorage.getItem(`agentd.${k}`) ?? undefined; } catch { return undefined; } },
  set: (k: string, v: string | undefined) => { try { if (v) localStorage.setItem(`agentd.${k}`, v); else localStorage.removeItem(`agentd.${k}`); } catch { /* private mode */ } },
};
/** The key lives in sessionStorage: gone when the tab closes. */
const keyStore = {
  get: () => { try { return sessionStorage.getItem('agentd.apiKey') ?? ''; } catch { return ''; } },
  set: (v: string) => { try { sessionStorage.setItem('agentd.apiKey', v); } catch { /* private mode */ } },
};

/** The channel an MCP sign-in's redirect (this page, in the window the sign-in opened) answers on. */
const AUTH_CHANNEL = 'agentd.mcp-auth';
/** The query parameter naming the MCP server whose sign-in redirects here. */
const AUTH_PARAM = 'mcpAuth';
/** How long a sign-in waits for the redirect. */
const AUTH_TIMEOUT_MS = 10 * 60_000;
interface AuthRedirect { name: string; code?: string; state?: string; error?: string }

class BrowserHost {
  client: AgentClient | undefined;
  readonly chat = new ChatSessionHost({
    client: () => this.live(),
    post: (m) => this.post(m),
    saveSessionId: (id) => { store.set('sessionId', id); },
    denyReason: 'denied in the browser',
    mcpSignIn: (client, name) => this.mcpSignIn(client, name),
  }, store.get('sessionId'));
  private ready = false;
  /** The window opened for a sign-in (at the click: a window opened later would be blocked). */
  private authWindow: Window | null = null;
  private authWaiters = new Map<string, (r: AuthRedirect) => void>();

  constructor() {
    if (typeof BroadcastChannel === 'undefined') return;
    new BroadcastChannel(AUTH_CHANNEL).onmessage = (ev: MessageEvent<AuthRedirect>) => {
      const r = ev.data;
      if (r && typeof r.name === 'string') this.authWaiters.get(r.name)?.(r);
    };
  }

  /** mcp/auth/start with this page as the redirect, the URL in the window opened at the click, then mcp/auth/callback. */
  private async mcpSignIn(client: AgentClient, name: string) {
    const w = this.authWindow;
    this.authWindow = null;
    try {
      const redirectUri = `${location.origin}/?${AUTH_PARAM}=${encodeURIComponent(name)}`;
      const { authorizationUrl } = await client.request(Methods.McpAuthStart, { name, redirectUri });
      if (!/^https?:/i.test(authorizationUrl)) throw new Error(`${name}: not an http(s) sign-in URL`);
      const redirect = new Promise<AuthRedirect>((resolve, reject) => {
        const timer = setTimeout(() => { this.authWaiters.delete(name); reject(new Error(`${name}: no sign-in within ${AUTH_TIMEOUT_MS / 60_000} minutes`)); }, AUTH_TIMEOUT_MS);
        this.authWaiters.set(name, (r) => { clearTimeout(timer); this.authWaiters.delete(name); resolve(r); });
      });
      if (w && !w.closed) w.location.href = authorizationUrl;
      else if (!window.open(authorizationUrl, '_blank', 'noopener')) throw new Error('the browser blocked the sign-in window: allow pop-ups for this page');
      const r = await redirect;
      if (r.error || !r.code || !r.state) throw new Error(`${name}: sign-in failed (${(r.error ?? 'no code').slice(0, 200)})`);
      const { server } = await client.request(Methods.McpAuthCallback, { name, code: r.code, state: r.state });
      if (server.status !== 'connected') throw new Error(`${name}: ${server.status}${server.error ? ` (${server.error})` : ''}`);
    } catch (err) {
      if (w && !w.closed) w.close();
      throw err;
    }
  }
  private queue: ToView[] = [];
  private connecting: Promise<void> | undefined;

  /** To the chat UI (it listens for window 'message' events, as in a webview). */
  post(msg: ToView) {
    if (!this.ready) { if (this.queue.length < 1000) this.queue.push(msg); return; }
    window.dispatchEvent(new MessageEvent('message', { data: msg }));
  }

  private setConnection(text: string, error = false) {
    const el = $('connection');
    el.textContent = text;
    el.classList.toggle('error', error);
  }

  transport(): Transport {
    return ($<HTMLSelectElement>('transport').value as Transport) || 'websocket';
  }

  /** (Re)connects with the bar's settings. */
  connect(): Promise<void> {
    this.connecting ??= this.doConnect().finally(() => { this.connecting = undefined; });
    return this.connecting;
  }

  private async doConnect() {
    const old = this.client;
    this.client = undefined;
    await old?.close().catch(() => undefined);
    const apiKey = $<HTMLInputElement>('apiKey').value.trim() || undefined;
    keyStore.set(apiKey ?? '');
    const transport = this.transport();
    store.set('transport', transport);
    const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/rpc`;
    const client = new AgentClient(
      transport === 'rest' ? restConnector({ baseUrl: location.origin, apiKey }) : websocketConnector({ url: wsUrl, apiKey }),
      { clientInfo: { name: 'agentd-web' }, reconnect: { maxAttempts: 10 } },
    );
    client.onPermissionRequest((req, signal) => this.chat.askApproval(req, signal));
    client.onStateChange((state, err) => {
      if (client !== this.client) return;
      document.body.dataset.state = state;
      this.post({ type: 'state', state });
      this.setConnection(state === 'connected' ? `connected (${client.transport})` : `${state}${err ? `: ${err.message}` : ''}`, state === 'closed' && Boolean(err));
    });
    client.onEvent((e) => this.chat.onEvent(e));
    this.client = client;
    this.setConnection('connecting…');
    try {
      await client.connect();
      if (transport === 'rest') await client.listSessions({ limit: 1 }); // REST has no handshake: check the key now
    } catch (err) {
      this.client = undefined;
      const e = err as Error & { status?: number };
      // A browser does not say why a WebSocket was refused: ask the API whether it wants a key.
      const unauthorized = e instanceof RpcResponseError && e.status === 401
        || await fetch('/v1/health', apiKey ? { headers: { authorization: `Bearer ${apiKey}` } } : {}).then((r) => r.status === 401, () => false);
      document.body.dataset.state = 'closed';
      this.post({ type: 'state', state: 'closed' });
      this.setConnection(unauthorized ? 'this server wants an API key: enter it and Connect' : `could not connect: ${e.message}`, true);
      if (unauthorized) $('apiKey').focus();
      await client.close().catch(() => undefined);
      throw err;
    }
    this.setConnection(`connected (${client.transport})`);
    document.body.dataset.state = 'connected';
    this.post({ type: 'state', state: 'connected' });
    await this.chat.start();
  }

  private async live(): Promise<AgentClient> {
    if (!this.client || this.client.state === 'closed') await this.connect();
    return this.client!;
  }

  /** What the chat UI posts. */
  fromView(msg: FromView) {
    if (msg.type === 'mcpSignIn') {
      // Opened now, in the click: after mcp/auth/start answers, a pop-up blocker would refuse it.
      this.authWindow = window.open('about:blank', '_blank');
      if (this.authWindow) this.authWindow.opener = null;
    }
    if (this.chat.handle(msg)) return;
    if (msg.type === 'ready') {
      this.ready = true;
      initBar(this);
      for (const m of this.queue.splice(0)) this.post(m);
      void this.connect().catch(() => undefined);
    }
  }
}

/** This page as the redirect of an MCP sign-in: the code goes to the page that asked, and the window closes. */
function authRedirect(params: URLSearchParams) {
  const r: AuthRedirect = { name: params.get(AUTH_PARAM) ?? '' };
  for (const k of ['code', 'state', 'error'] as const) { const v = params.get(k); if (v) r[k] = v.slice(0, 4096); }
  document.body.dataset.role = 'callback';
  document.body.textContent = '';
  document.body.appendChild(document.createElement('p')).textContent = r.error
    ? `Sign-in to ${r.name} failed: ${r.error}. You can close this window.`
    : `Signed in to ${r.name}; you can close this window.`;
  // The code leaves the address bar and the history at once.
  history.replaceState(null, '', '/');
  if (typeof BroadcastChannel !== 'undefined') {
    const ch = new BroadcastChannel(AUTH_CHANNEL);
    ch.postMessage(r);
    ch.close();
  }
  setTimeout(() => window.close(), 200);
}

const search = new URLSearchParams(location.search);
if (search.has(AUTH_PARAM)) {
  authRedirect(search);
  (window as unknown as { acquireVsCodeApi: () => unknown }).acquireVsCodeApi = () => ({ postMessage: () => undefined, getState: () => undefined, setState: () => undefined });
} else {
  const host = new BrowserHost();
  (window as unknown as { agentd: BrowserHost }).agentd = host;
  /** The chat UI reaches its host through this, as in a VS Code webview. */
  (window as unknown as { acquireVsCodeApi: () => unknown }).acquireVsCodeApi = () => ({
    postMessage: (msg: FromView) => host.fromView(msg),
    getState: () => undefined,
    setState: () => undefined,
  });
}

/** The page's bar (the UI posts `ready` once its DOM is there: app.js and chat.js end the body). */
function initBar(host: BrowserHost) {
  const params = new URLSearchParams(location.search);
  const transport = params.get('transport') ?? store.get('transport');
  if (transport === 'rest' || transport === 'websocket') $<HTMLSelectElement>('transport').value = transport;
  $<HTMLInputElement>('apiKey').value = keyStore.get();
  $('connect').addEventListener('click', () => { void host.connect().catch(() => undefined); });
  $<HTMLSelectElement>('transport').addEventListener('change', () => { void host.connect().catch(() => undefined); });
  $<HTMLInputElement>('apiKey').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); void host.connect().catch(() => undefined); } });
}
