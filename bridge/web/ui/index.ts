/**
 * The chat UI, shared by the page at `/` and the VS Code webview: it builds its own DOM in
 * `#chat`, renders what its host posts (ToView, as window `message` events) and posts back what the
 * user does (FromView) through `acquireVsCodeApi()`. In VS Code the webview provides that function;
 * in a browser bridge/web/main.ts does. Bundled by esbuild into chat.js (+ chat.css).
 */
import type { FileChangeSummary, Message, PermissionDecision, PermissionRequestParams, Session, TypedEvent } from '../../../protocol/client/index.js';
import { renderDiff, snapshotDiff } from './diff.js';
import { el } from './dom.js';
import { StreamingMarkdown } from './markdown.js';
import type { FromView, ToView } from './messages.js';
import { Sidebar, type PlanEntry } from './sidebar.js';
import { DECISIONS, ToolCard, answeredBy, approvalBox } from './tools.js';

declare function acquireVsCodeApi(): { postMessage(msg: FromView): void };

/** Images pasted or dropped into the prompt: at most this many, each at most this big. */
const MAX_IMAGES = 4;
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
/** The transcript keeps at most this many bubbles and cards (older ones are dropped from the page). */
const MAX_NODES = 2000;

const textOf = (parts: Message['content'] | undefined) => (parts ?? []).filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join('');

class ChatUI {
  private readonly host = acquireVsCodeApi();
  private readonly root = document.getElementById('chat') ?? document.body.appendChild(el('div'));
  private readonly sidebar = new Sidebar((m) => this.post(m));
  private readonly log = el('main');
  private readonly input = el('textarea') as HTMLTextAreaElement;
  private readonly sessionLabel = el('span');
  private readonly stateLabel = el('span');
  private readonly connLabel = el('span', 'conn');
  private readonly model = el('select') as HTMLSelectElement;
  private readonly attachments = el('div', 'attachments');
  private images: Array<{ mediaType: string; data: string }> = [];
  private bubbles = new Map<string, { root: HTMLElement; md: StreamingMarkdown }>();
  private tools = new Map<string, ToolCard>();
  private approvals = new Map<string, { box: HTMLElement; card: ToolCard }>();
  private session: Session | undefined;
  /** The newest seq rendered for the current session: replays after a reconnect are not shown twice. */
  private lastSeq = 0;
  private methods = new Set<string>();
  private decisions: PermissionDecision[] = ['allow_once', 'allow_always', 'deny'];
  private snapshots = false;
  /** Nodes are inserted before this one while an older page is drawn (undefined: appended). */
  private insertBefore: Node | null | undefined;
  private readonly loadOlder = el('button', 'secondary load-older', 'Load older messages') as HTMLButtonElement;
  private olderCursor: string | null = null;
  /** Results of calls whose card is not drawn yet (its tool_use is on an older page). */
  private results = new Map<string, { text: string; isError: boolean }>();
  /** Per turn: its changed-files block, drawn from turn.diff. */
  private turnChanges = new Map<string, HTMLDetailsElement>();
  private compactions = new Map<string, { tokensBefore: number; tokensAfter: number }>();
  private revertBanner: HTMLElement | undefined;

  constructor() {
    this.build();
    // Only the host posts to the UI. In the page (a top-level window) its host dispatches the event
    // itself, without a source: a window the page opened (a sign-in) is not heard. A webview is a
    // frame that VS Code's own frame posts to; it opens no window.
    const topLevel = window.parent === window;
    window.addEventListener('message', (ev: MessageEvent<ToView>) => {
      if (topLevel && ev.source !== null) return;
      this.onMessage(ev.data);
    });
    this.post({ type: 'ready' });
  }

  private post(m: FromView) { this.host.postMessage(m); }

  private build() {
    this.root.classList.add('chat-root');
    const conversation = el('div', 'conversation');
    const header = el('header');
    const toggle = el('button', 'secondary', '☰') as HTMLButtonElement;
    toggle.type = 'button';
    toggle.id = 'sessions';
    toggle.setAttribute('aria-label', 'Show or hide the sessions');
    toggle.setAttribute('aria-controls', 'sidebar');
    toggle.addEventListener('click', () => {
      const shown = !this.root.classList.toggle('sidebar-hidden');
      toggle.setAttribute('aria-expanded', String(shown));
      if (shown) this.sidebar.refresh();
    });
    this.sessionLabel.id = 'session';
    this.sessionLabel.textContent = 'no session';
    this.stateLabel.id = 'state';
    this.connLabel.id = 'conn';
    this.connLabel.setAttribute('role', 'status');
    const modelLabel = el('label', 'model');
    modelLabel.append('model ');
    this.model.id = 'model';
    this.model.addEventListener('change', () => {
      const [provider, ...rest] = this.model.value.split('/');
      if (provider) this.post({ type: 'selectModel', provider, model: rest.join('/') });
    });
    modelLabel.appendChild(this.model);
    header.append(toggle, this.sessionLabel, modelLabel, this.stateLabel, this.connLabel);
    this.log.id = 'log';
    this.log.setAttribute('aria-live', 'polite');
    this.log.setAttribute('aria-label', 'Conversation');
    this.log.tabIndex = -1;
    this.loadOlder.type = 'button';
    this.loadOlder.id = 'loadOlder';
    this.loadOlder.addEventListener('click', () => {
      if (!this.session || !this.olderCursor) return;
      this.loadOlder.disabled = true;
      this.post({ type: 'loadOlder', sessionId: this.session.id, before: this.olderCursor });
    });
    const form = el('form') as HTMLFormElement;
    form.id = 'composer';
    this.input.id = 'input';
    this.input.rows = 3;
    this.input.placeholder = 'Ask the agent… (Enter sends, Shift+Enter for a new line; paste or drop images)';
    this.input.setAttribute('aria-label', 'Message to the agent');
    const buttons = el('div', 'buttons');
    const send = el('button', '', 'Send') as HTMLButtonElement;
    send.type = 'submit';
    send.id = 'send';
    const cancel = el('button', 'secondary', 'Cancel') as HTMLButtonElement;
    cancel.type = 'button';
    cancel.id = 'cancel';
    cancel.addEventListener('click', () => this.post({ type: 'cancel' }));
    buttons.append(send, cancel);
    form.append(this.attachments, this.input, buttons);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = this.input.value.trim();
      if (!text && !this.images.length) return;
      this.input.value = '';
      const images = this.images.splice(0);
      this.attachments.textContent = '';
      this.post({ type: 'send', text, ...(images.length ? { images } : {}) });
    });
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); form.requestSubmit(); }
    });
    this.input.addEventListener('paste', (ev) => this.takeImages(ev.clipboardData?.files, ev));
    form.addEventListener('dragover', (ev) => { if (ev.dataTransfer?.types.includes('Files')) ev.preventDefault(); });
    form.addEventListener('drop', (ev) => this.takeImages(ev.dataTransfer?.files, ev));
    conversation.append(header, this.log, form);
    this.root.append(this.sidebar.root, conversation);
    if (window.innerWidth < 640) { this.root.classList.add('sidebar-hidden'); toggle.setAttribute('aria-expanded', 'false'); } else toggle.setAttribute('aria-expanded', 'true');
    // Approval shortcuts: Alt+Y allow once, Alt+A always allow, Alt+N deny (the oldest open approval).
    document.addEventListener('keydown', (ev) => {
      if (!ev.altKey || ev.ctrlKey || ev.metaKey) return;
      const d = DECISIONS.find((x) => (x.key === ev.key.toLowerCase() || `Key${x.key.toUpperCase()}` === ev.code) && Boolean(x.shift) === ev.shiftKey && this.decisions.includes(x.decision));
      const open = [...this.approvals.values()].find((a) => !a.box.classList.contains('answered'));
      if (!d || !open) return;
      ev.preventDefault();
      open.box.querySelector<HTMLButtonElement>(`button[data-decision="${d.decision}"]`)?.click();
    });
  }

  private takeImages(files: FileList | undefined | null, ev: Event) {
    const list = [...(files ?? [])].filter((f) => /^image\/(png|jpeg|gif|webp)$/.test(f.type));
    if (!list.length) return;
    ev.preventDefault();
    for (const f of list) {
      if (this.images.length >= MAX_IMAGES) { this.note(`at most ${MAX_IMAGES} images per message`, 'warn'); break; }
      if (f.size > MAX_IMAGE_BYTES) { this.note(`${f.name || 'image'} is over ${MAX_IMAGE_BYTES >> 20} MB`, 'warn'); continue; }
      const reader = new FileReader();
      reader.onload = () => {
        const url = String(reader.result);
        const data = url.slice(url.indexOf(',') + 1);
        if (this.images.length >= MAX_IMAGES) return;
        this.images.push({ mediaType: f.type, data });
        const chip = el('span', 'attachment');
        const img = el('img') as HTMLImageElement;
        img.src = url;
        img.alt = f.name || 'pasted image';
        const x = el('button', 'secondary', '✕') as HTMLButtonElement;
        x.type = 'button';
        x.setAttribute('aria-label', `Remove ${img.alt}`);
        const entry = this.images[this.images.length - 1];
        x.addEventListener('click', () => { this.images = this.images.filter((i) => i !== entry); chip.remove(); });
        chip.append(img, x);
        this.attachments.appendChild(chip);
      };
      reader.readAsDataURL(f);
    }
  }

  private scroll() {
    const near = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 120;
    if (near) this.log.scrollTop = this.log.scrollHeight;
  }

  private add(node: HTMLElement) {
    if (this.insertBefore !== undefined) { this.log.insertBefore(node, this.insertBefore); return node; }
    const stick = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 120;
    this.log.appendChild(node);
    while (this.log.childElementCount > MAX_NODES) {
      const first = this.log.firstElementChild === this.loadOlder ? this.loadOlder.nextElementSibling : this.log.firstElementChild;
      first?.remove();
    }
    if (stick) this.log.scrollTop = this.log.scrollHeight;
    return node;
  }

  private note(text: string, cls = '') { this.add(el('div', `note ${cls}`, text)); }

  private bubble(id: string, role: string) {
    let b = this.bubbles.get(id);
    if (!b) {
      const root = el('div', `msg ${role}`);
      root.dataset.messageId = id;
      const head = el('div', 'msg-head');
      head.appendChild(el('span', 'role', role === 'user' ? 'You' : 'agentd'));
      head.appendChild(this.menu(id, role === 'user'));
      const text = el('div', 'text');
      root.append(head, text);
      b = { root, md: new StreamingMarkdown(text) };
      this.bubbles.set(id, b);
      this.add(root);
    }
    return b;
  }

  /** A message's menu: fork from it; for the user's messages, revert to before it where the server can. */
  private menu(messageId: string, revertable: boolean): HTMLElement {
    const d = el('details', 'msg-menu') as HTMLDetailsElement;
    const s = el('summary', '', '⋯');
    s.setAttribute('aria-label', 'Message actions');
    const items = el('div', 'menu-items');
    items.setAttribute('role', 'menu');
    const item = (label: string, cls: string, fn: () => void) => {
      const b = el('button', `secondary ${cls}`, label) as HTMLButtonElement;
      b.type = 'button';
      b.setAttribute('role', 'menuitem');
      b.addEventListener('click', () => { d.open = false; fn(); });
      items.appendChild(b);
    };
    item('Fork from here', 'fork', () => { if (this.session) this.post({ type: 'forkSession', sessionId: this.session.id, messageId }); });
    if (revertable && this.snapshots && this.methods.has('session/revert')) item('Revert to before this', 'revert', () => { if (this.session) this.post({ type: 'revertSession', sessionId: this.session.id, messageId }); });
    d.append(s, items);
    return d;
  }

  private card(callId: string, tool: string, input?: unknown): ToolCard {
    let c = this.tools.get(callId);
    if (!c) {
      c = new ToolCard(callId, tool, input);
      this.tools.set(callId, c);
      this.add(c.root);
      const r = this.results.get(callId);
      if (r) { this.results.delete(callId); this.toolDone(c, r.text, r.isError); }
    } else if (input !== undefined) c.setInput(input);
    return c;
  }

  private toolDone(c: ToolCard, text: string, isError: boolean) {
    const first = c.status === 'running' || c.status === 'waiting';
    c.finish(text, isError);
    // With snapshots the sidebar lists session/diff (every tool's changes); without, the edits'.
    if (first && !isError && c.diff && !this.snapshots) this.sidebar.addChange(c.diff);
    this.scroll();
  }

  private renderMessage(m: Message) {
    if (m.role === 'user' && m.content.every((p) => p.type === 'tool_result')) {
      for (const p of m.content) {
        if (p.type !== 'tool_result') continue;
        const c = this.tools.get(p.toolUseId);
        if (c) this.toolDone(c, textOf(p.content), Boolean(p.isError));
        else if (this.results.size < 1000) this.results.set(p.toolUseId, { text: textOf(p.content), isError: Boolean(p.isError) });
        if (c && m.reverted) c.root.classList.add('reverted');
      }
      return;
    }
    if (m.kind === 'summary') { this.summaryMarker(m); return; }
    const text = textOf(m.content);
    if (text || m.role === 'user') {
      const b = this.bubble(m.id, m.role);
      b.md.finish(text);
      const images = m.content.filter((p) => p.type === 'image');
      if (images.length) b.root.appendChild(el('div', 'note', `${images.length} image${images.length > 1 ? 's' : ''} attached`));
      if (m.reverted) b.root.classList.add('reverted');
    }
    for (const p of m.content) if (p.type === 'tool_use') { const c = this.card(p.id, p.name, p.input); if (m.reverted) c.root.classList.add('reverted'); }
  }

  /** A compaction: the summary the model gets from then on, folded, with the token counts when known. */
  private summaryMarker(m: Message) {
    if (this.log.querySelector(`.summary-marker[data-message-id="${CSS.escape(m.id)}"]`)) return;
    const d = el('details', 'summary-marker') as HTMLDetailsElement;
    d.dataset.messageId = m.id;
    const s = el('summary', '', 'Conversation compacted');
    const info = el('span', 'tokens');
    s.append(' ', info);
    d.append(s, el('div', 'summary-text', textOf(m.content)));
    this.add(d);
    this.showCompaction(m.id);
  }

  private showCompaction(messageId: string) {
    const c = this.compactions.get(messageId);
    const info = this.log.querySelector(`.summary-marker[data-message-id="${CSS.escape(messageId)}"] .tokens`);
    if (c && info) info.textContent = `(about ${c.tokensBefore} → ${c.tokensAfter} tokens)`;
  }

  /** A turn's changed files (turn.diff), each diff fetched (session/diff with turnId) when opened. */
  private turnDiff(turnId: string, files: FileChangeSummary[]) {
    if (!files.length || this.turnChanges.has(turnId)) return;
    const d = el('details', 'turn-changes') as HTMLDetailsElement;
    d.dataset.turnId = turnId;
    const add = files.reduce((n, f) => n + f.additions, 0);
    const del = files.reduce((n, f) => n + f.deletions, 0);
    d.appendChild(el('summary', '', `${files.length} file${files.length > 1 ? 's' : ''} changed  +${add} −${del}`));
    const ul = el('ul', 'turn-files');
    for (const f of files.slice(0, 200)) {
      const li = el('li', `changed-file ${f.status}`);
      li.dataset.path = f.path;
      li.append(el('span', 'path', f.path), ' ', el('span', 'counts', `${f.status} +${f.additions} −${f.deletions}`));
      ul.appendChild(li);
    }
    d.appendChild(ul);
    d.addEventListener('toggle', () => {
      if (d.open && !d.dataset.requested && this.session) { d.dataset.requested = '1'; this.post({ type: 'diff', sessionId: this.session.id, turnId }); }
    });
    this.turnChanges.set(turnId, d);
    this.add(d);
  }

  private showDiff(msg: Extract<ToView, { type: 'diff' }>) {
    if (msg.sessionId !== this.session?.id) return;
    if (!msg.turnId) { this.sidebar.showSessionDiff(msg.files); return; }
    const d = this.turnChanges.get(msg.turnId);
    if (!d) return;
    for (const f of msg.files) {
      const li = [...d.querySelectorAll<HTMLElement>('li.changed-file')].find((x) => x.dataset.path === f.path);
      if (li && !li.querySelector('.diff')) li.appendChild(renderDiff(snapshotDiff(f)));
    }
  }

  private refreshSessionDiff() {
    if (this.snapshots && this.session && this.methods.has('session/diff')) this.post({ type: 'diff', sessionId: this.session.id });
  }

  /** The log's nodes from a message's own to the end (what a revert takes back). */
  private nodesFrom(messageId: string): Element[] {
    const start = [...this.log.children].find((n) => (n as HTMLElement).dataset.messageId === messageId);
    if (!start) return [];
    const out: Element[] = [];
    for (let n: Element | null = start; n; n = n.nextElementSibling) out.push(n);
    return out;
  }

  private reverted(messageId: string, files: Array<{ path: string }>) {
    for (const n of this.nodesFrom(messageId)) if (!n.classList.contains('revert-banner')) n.classList.add('reverted');
    this.showRevertBanner(`Reverted to before this message: ${files.length ? `${files.length} file${files.length > 1 ? 's' : ''} restored (${files.slice(0, 5).map((f) => f.path).join(', ')}${files.length > 5 ? ', …' : ''})` : 'no file to restore'}.`);
  }

  private showRevertBanner(text: string) {
    this.revertBanner?.remove();
    const b = el('div', 'revert-banner note');
    b.setAttribute('role', 'status');
    b.append(el('span', '', text), ' ');
    if (this.methods.has('session/unrevert')) {
      const u = el('button', 'secondary', 'Unrevert') as HTMLButtonElement;
      u.type = 'button';
      u.id = 'unrevert';
      u.addEventListener('click', () => { if (this.session) this.post({ type: 'unrevertSession', sessionId: this.session.id }); });
      b.appendChild(u);
    }
    this.revertBanner = b;
    this.insertBefore = undefined;
    this.add(b);
  }

  private unreverted(messageId: string, files: Array<{ path: string }>) {
    for (const n of this.nodesFrom(messageId)) n.classList.remove('reverted');
    this.revertBanner?.remove();
    this.revertBanner = undefined;
    this.note(`Unreverted: ${files.length} file${files.length === 1 ? '' : 's'} back as before the revert.`);
  }

  private resetTranscript() {
    this.log.textContent = '';
    this.bubbles.clear();
    this.tools.clear();
    this.approvals.clear();
    this.results.clear();
    this.turnChanges.clear();
    this.compactions.clear();
    this.revertBanner = undefined;
    this.olderCursor = null;
  }

  /** An older page: drawn above what is shown, the view kept where it was. */
  private showOlder(msg: Extract<ToView, { type: 'older' }>) {
    if (msg.sessionId !== this.session?.id) return;
    const height = this.log.scrollHeight;
    const top = this.log.scrollTop;
    this.insertBefore = this.loadOlder.nextSibling;
    try {
      for (const m of msg.messages) this.renderMessage(m);
    } finally {
      this.insertBefore = undefined;
    }
    this.olderCursor = msg.nextCursor;
    this.loadOlder.disabled = false;
    if (!msg.nextCursor) this.loadOlder.remove();
    this.log.scrollTop = top + (this.log.scrollHeight - height);
  }

  private setSession(s: Session) {
    this.session = s;
    this.sessionLabel.textContent = `${s.name || s.id} · ${s.provider}/${s.model}`;
    document.body.dataset.sessionId = s.id;
  }

  private onEvent(e: TypedEvent) {
    if (this.session && e.sessionId === this.session.id) {
      if (e.seq <= this.lastSeq) return; // already shown (a replay after a reconnect)
      this.lastSeq = e.seq;
    }
    const d = e.data as never as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    switch (e.type) {
      case 'message.created':
        if (d.message.role === 'user') {
          // A new message ends the chance to unrevert (the server forgets the reverted turns).
          if (d.message.kind !== 'summary' && !d.message.content.every((p: { type: string }) => p.type === 'tool_result')) this.revertBanner?.querySelector('#unrevert')?.remove();
          this.renderMessage(d.message);
        }
        break;
      case 'message.delta':
        if (d.delta?.type === 'text_delta') { this.bubble(d.messageId, 'assistant').md.append(d.delta.text); this.scroll(); }
        break;
      case 'message.completed':
        if (d.message.role === 'assistant') {
          const text = textOf(d.message.content);
          if (text || this.bubbles.has(d.message.id)) this.bubble(d.message.id, 'assistant').md.finish(text);
          for (const p of d.message.content) if (p.type === 'tool_use') this.card(p.id, p.name, p.input);
        }
        break;
      case 'turn.started': this.stateLabel.textContent = 'working…'; document.body.classList.add('busy'); break;
      case 'turn.completed': this.stateLabel.textContent = ''; document.body.classList.remove('busy'); break;
      case 'turn.failed': case 'turn.cancelled': case 'turn.interrupted':
        this.stateLabel.textContent = '';
        document.body.classList.remove('busy');
        if (d.messageId) { const b = this.bubbles.get(d.messageId); b?.md.finish(b.md.source); }
        this.note(`Turn ${e.type.slice(5)}${d.error ? `: ${d.error.message}` : d.reason ? `: ${d.reason}` : ''}`, 'warn');
        break;
      case 'tool.started': this.card(d.callId, d.tool, d.input).setStatus('running'); break;
      case 'tool.output': this.card(d.callId, d.tool).appendOutput(String(d.text ?? '')); this.scroll(); break;
      case 'tool.completed': this.toolDone(this.card(d.callId, d.tool, d.input), d.result ? textOf(d.result.content) : '', Boolean(d.result?.isError)); break;
      case 'tool.failed': this.toolDone(this.card(d.callId, d.tool, d.input), d.result ? textOf(d.result.content) : (d.error?.message ?? 'failed'), true); break;
      case 'permission.requested': {
        const c = this.card(d.callId, d.tool, d.input);
        if (c.status === 'running') c.setStatus('waiting');
        break;
      }
      case 'permission.resolved': this.closeApproval(d.permissionId, d.decision, d.by); break;
      case 'usage.updated': this.sidebar.showUsage(d.sessionUsage, d.sessionCostUsd, d.context); break;
      case 'session.updated':
        if (this.session && d.session?.id === this.session.id) { this.setSession(d.session); this.sidebar.refresh(); }
        break;
      case 'plan.updated': this.sidebar.showPlan((d.entries ?? []) as PlanEntry[]); break;
      case 'turn.diff': this.turnDiff(d.turnId, d.files ?? []); this.refreshSessionDiff(); break;
      case 'session.reverted': this.reverted(d.messageId, d.files ?? []); this.refreshSessionDiff(); break;
      case 'session.unreverted': this.unreverted(d.messageId, d.files ?? []); this.refreshSessionDiff(); break;
      case 'session.compacted':
        if (this.compactions.size < 1000) this.compactions.set(d.summaryMessageId, { tokensBefore: d.tokensBefore, tokensAfter: d.tokensAfter });
        this.showCompaction(d.summaryMessageId);
        break;
      default: break;
    }
  }

  private askApproval(req: PermissionRequestParams) {
    if (this.approvals.has(req.permissionId)) return;
    const card = this.card(req.callId, req.tool, req.input);
    card.setStatus('waiting');
    card.root.open = true;
    const box = approvalBox(req, (decision, reason) => this.post({ type: 'approve', permissionId: req.permissionId, decision, ...(reason ? { reason } : {}) }), this.decisions);
    card.approvalArea.appendChild(box);
    this.approvals.set(req.permissionId, { box, card });
    this.scroll();
  }

  private closeApproval(permissionId: string, decision?: string, by?: Parameters<typeof answeredBy>[0]) {
    const a = this.approvals.get(permissionId);
    if (!a || a.box.classList.contains('answered')) return;
    a.box.classList.add('answered');
    const words = decision ? `Answered: ${decision.replace('_', ' ')}${answeredBy(by)}` : 'No longer pending';
    for (const x of a.box.querySelectorAll('.buttons, input.reason')) x.remove();
    a.box.appendChild(el('div', 'decision', words));
    if (a.card.status === 'waiting') a.card.setStatus(decision === 'deny' || decision === 'deny_always' ? 'denied' : 'running');
  }

  private showProviders(msg: Extract<ToView, { type: 'providers' }>) {
    this.model.textContent = '';
    for (const p of msg.providers) {
      for (const m of p.models) {
        const o = el('option', '', `${p.id}/${m}${p.authenticated ? '' : ' (needs a key)'}`) as HTMLOptionElement;
        o.value = `${p.id}/${m}`;
        if (o.value === msg.selected) o.selected = true;
        this.model.appendChild(o);
      }
    }
  }

  private onMessage(msg: ToView) {
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'state': {
        document.body.dataset.state = msg.state;
        const words: Record<string, string> = { connected: 'connected', reconnecting: 'reconnecting…', connecting: 'connecting…', closed: 'offline', idle: 'offline' };
        this.connLabel.textContent = words[msg.state] ?? msg.state;
        this.connLabel.dataset.state = msg.state;
        break;
      }
      case 'history':
        this.resetTranscript();
        this.setSession(msg.session);
        this.lastSeq = msg.session.lastSeq;
        this.sidebar.openSession(msg.session);
        this.olderCursor = msg.messagesCursor ?? null;
        if (this.olderCursor) { this.loadOlder.disabled = false; this.log.appendChild(this.loadOlder); }
        for (const m of msg.messages) this.renderMessage(m);
        for (const c of this.tools.values()) if (c.status === 'running' && msg.session.status !== 'running') c.setStatus('failed');
        {
          // The last turns reverted and nothing sent since: they can still be unreverted.
          const last = msg.messages[msg.messages.length - 1];
          const first = last?.reverted ? msg.messages.find((m) => m.reverted && m.role === 'user') : undefined;
          if (first && msg.session.status !== 'running') this.showRevertBanner('The last turns were reverted.');
        }
        this.refreshSessionDiff();
        this.log.scrollTop = this.log.scrollHeight;
        break;
      case 'older': this.showOlder(msg); break;
      case 'diff': this.showDiff(msg); break;
      case 'mcp': this.sidebar.showMcp(msg.servers); break;
      case 'event': this.onEvent(msg.event); break;
      case 'permission': this.askApproval(msg.request); break;
      case 'permissionClosed': this.closeApproval(msg.permissionId, msg.decision, msg.by); break;
      case 'sessions': this.sidebar.showSessions(msg.sessions, msg.currentId); break;
      case 'providers': this.showProviders(msg); break;
      case 'capabilities':
        this.methods = new Set(msg.methods);
        if (msg.decisions) this.decisions = msg.decisions;
        this.snapshots = Boolean(msg.snapshots) && this.methods.has('session/diff');
        this.sidebar.setMethods(this.methods);
        break;
      case 'noSession':
        this.resetTranscript();
        this.session = undefined;
        this.sessionLabel.textContent = 'no session';
        document.body.dataset.sessionId = '';
        break;
      case 'error': this.note(msg.message, 'error'); break;
    }
  }
}

// Not in the window of an MCP sign-in's redirect (bridge/web/main.ts), which only hands the code over.
if (document.body.dataset.role !== 'callback') new ChatUI();
