/**
 * The chat page's host in a browser. The chat UI itself is extension/media/chat.js, the same file
 * the VS Code extension's webview runs: it renders what it is posted (ToView) and posts back what
 * the user does (FromView) through `acquireVsCodeApi()`. In VS Code the extension answers those
 * messages (extension/src/controller.ts); here this file does, with the typed client library
 * talking to the server that served the page (WebSocket /rpc or REST + SSE /v1, with an optional
 * API key). Bundled for the browser by bridge/web/build.mjs (esbuild, IIFE) into dist/web/app.js.
 */
import {
  AgentClient, restConnector, RpcResponseError, websocketConnector,
  type PermissionRequestParams, type PermissionRequestResult, type TypedEvent,
} from '../../protocol/client/index.js';
import type { FromView, ToView } from '../../extension/src/chatView.js';

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

class BrowserHost {
  client: AgentClient | undefined;
  sessionId = store.get('sessionId');
  private pending = new Map<string, (r: PermissionRequestResult) => void>();
  private ready = false;
  private queue: ToView[] = [];
  private connecting: Promise<void> | undefined;

  /** To the chat UI (chat.js listens for window 'message' events, as in a webview). */
  post(msg: ToView) {
    if (!this.ready) { this.queue.push(msg); return; }
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
    client.onPermissionRequest((req, signal) => this.askApproval(req, signal));
    client.onStateChange((state, err) => {
      if (client !== this.client) return;
      document.body.dataset.state = state;
      this.post({ type: 'state', state });
      this.setConnection(state === 'connected' ? `connected (${client.transport})` : `${state}${err ? `: ${err.message}` : ''}`, state === 'closed' && Boolean(err));
    });
    client.onEvent((e) => this.onEvent(e));
    this.client = client;
    this.setConnection('connecting…');
    try {
      await client.connect();
      if (transport === 'rest') await client.listSessions(); // REST has no handshake: check the key now
    } catch (err) {
      this.client = undefined;
      const e = err as Error & { status?: number };
      // A browser does not say why a WebSocket was refused: ask the API whether it wants a key.
      const unauthorized = e instanceof RpcResponseError && e.status === 401
        || await fetch('/v1/health', apiKey ? { headers: { authorization: `Bearer ${apiKey}` } } : {}).then((r) => r.status === 401, () => false);
      document.body.dataset.state = 'closed';
      this.setConnection(unauthorized ? 'this server wants an API key: enter it and Connect' : `could not connect: ${e.message}`, true);
      if (unauthorized) $('apiKey').focus();
      await client.close().catch(() => undefined);
      throw err;
    }
    this.setConnection(`connected (${client.transport})`);
    document.body.dataset.state = 'connected';
    this.post({ type: 'state', state: 'connected' });
    await this.loadModels();
    if (this.sessionId) await this.openSession(this.sessionId).catch(() => { this.setSession(undefined); });
  }

  private async live(): Promise<AgentClient> {
    if (!this.client || this.client.state === 'closed') await this.connect();
    return this.client!;
  }

  private async loadModels() {
    const { providers } = await this.client!.listProviders();
    const select = $<HTMLSelectElement>('model');
    const wanted = store.get('model');
    select.textContent = '';
    for (const p of providers) {
      for (const m of p.models) {
        const o = document.createElement('option');
        o.value = `${p.id}/${m}`;
        o.textContent = `${p.id}/${m}${p.authenticated ? '' : ' (needs a key)'}`;
        if (o.value === wanted || (!wanted && m === p.defaultModel && p === providers[0])) o.selected = true;
        select.appendChild(o);
      }
    }
  }

  private setSession(id: string | undefined) {
    this.sessionId = id;
    store.set('sessionId', id);
    document.body.dataset.sessionId = id ?? '';
  }

  async openSession(id: string) {
    const client = await this.live();
    const previous = this.sessionId;
    if (previous && previous !== id && client.lastSeen(previous) !== undefined) await client.unsubscribe({ sessionId: previous }).catch(() => undefined);
    const { session, messages } = await client.getSession(id);
    this.setSession(id);
    this.post({ type: 'history', session, messages });
    if (client.lastSeen(id) === undefined) await client.subscribe({ sessionId: id, since: session.lastSeq });
  }

  async newSession() {
    const client = await this.live();
    const [provider, ...model] = ($<HTMLSelectElement>('model').value || '').split('/');
    const session = await client.createSession(provider ? { provider, model: model.join('/') } : {});
    await this.openSession(session.id);
  }

  async send(text: string) {
    const client = await this.live();
    if (!this.sessionId) await this.newSession();
    await client.sendMessage({ sessionId: this.sessionId!, content: text, async: true });
  }

  async cancel() {
    if (!this.sessionId) return;
    const r = await (await this.live()).cancel(this.sessionId);
    if (!r.cancelled) this.post({ type: 'error', message: 'no turn is running' });
  }

  /** The Sessions button: a dialog listing them (VS Code shows a quick pick instead). */
  async showSessions() {
    const { sessions } = await (await this.live()).listSessions();
    const dialog = $<HTMLDialogElement>('sessionList');
    const ul = dialog.querySelector('ul')!;
    ul.textContent = '';
    for (const s of sessions) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'secondary';
      b.dataset.sessionId = s.id;
      b.textContent = `${s.name || s.id} · ${s.provider}/${s.model}${s.status === 'running' ? ' · running' : ''}${s.id === this.sessionId ? ' · current' : ''}`;
      b.addEventListener('click', () => { dialog.close(''); void this.run(this.openSession(s.id)); });
      li.appendChild(b);
      ul.appendChild(li);
    }
    dialog.showModal();
  }

  private onEvent(e: TypedEvent) {
    if (!e.sessionId || e.sessionId !== this.sessionId) return;
    if (e.type === 'stream.gap') void this.openSession(e.sessionId).catch(() => undefined);
    else this.post({ type: 'event', event: e });
  }

  /** An approval: shown in the chat (allow once / always / deny) until answered or resolved elsewhere. */
  askApproval(request: PermissionRequestParams, signal: AbortSignal): Promise<PermissionRequestResult> {
    return new Promise((resolve) => {
      this.pending.set(request.permissionId, resolve);
      signal.addEventListener('abort', () => {
        if (this.pending.delete(request.permissionId)) {
          this.post({ type: 'permissionClosed', permissionId: request.permissionId });
          resolve({ decision: 'deny', reason: 'no longer pending' });
        }
      }, { once: true });
      this.post({ type: 'permission', request });
    });
  }

  private answer(permissionId: string, decision: PermissionRequestResult['decision']) {
    const resolve = this.pending.get(permissionId);
    if (!resolve) return;
    this.pending.delete(permissionId);
    this.post({ type: 'permissionClosed', permissionId, decision });
    resolve(decision === 'deny' ? { decision, reason: 'denied in the browser' } : { decision });
  }

  run(p: Promise<unknown>) {
    return p.catch((err: Error) => this.post({ type: 'error', message: err.message }));
  }

  /** What the chat UI posts. */
  fromView(msg: FromView) {
    switch (msg.type) {
      case 'ready':
        this.ready = true;
        initBar();
        for (const m of this.queue.splice(0)) this.post(m);
        void this.connect().catch(() => undefined);
        break;
      case 'send': void this.run(this.send(msg.text)); break;
      case 'cancel': void this.run(this.cancel()); break;
      case 'newSession': void this.run(this.newSession()); break;
      case 'sessions': void this.run(this.showSessions()); break;
      case 'approve': this.answer(msg.permissionId, msg.decision); break;
    }
  }
}

const host = new BrowserHost();
(window as unknown as { agentd: BrowserHost }).agentd = host;
/** chat.js reaches its host through this, as in a VS Code webview. */
(window as unknown as { acquireVsCodeApi: () => unknown }).acquireVsCodeApi = () => ({
  postMessage: (msg: FromView) => host.fromView(msg),
  getState: () => undefined,
  setState: () => undefined,
});

/** The page's bar (chat.js posts `ready` once the DOM is there: app.js and chat.js end the body). */
function initBar() {
  const params = new URLSearchParams(location.search);
  const transport = params.get('transport') ?? store.get('transport');
  if (transport === 'rest' || transport === 'websocket') $<HTMLSelectElement>('transport').value = transport;
  $<HTMLInputElement>('apiKey').value = keyStore.get();
  $('connect').addEventListener('click', () => { void host.connect().catch(() => undefined); });
  $<HTMLSelectElement>('transport').addEventListener('change', () => { void host.connect().catch(() => undefined); });
  $<HTMLSelectElement>('model').addEventListener('change', (ev) => store.set('model', (ev.target as HTMLSelectElement).value));
  $<HTMLInputElement>('apiKey').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); void host.connect().catch(() => undefined); } });
  $<HTMLDialogElement>('sessionList').addEventListener('close', () => {
    if ($<HTMLDialogElement>('sessionList').returnValue === 'new') void host.run(host.newSession());
  });
}
