/**
 * The session sidebar: sessions newest first with search, rename and delete; the current session's
 * usage, cost and context meter (and Compact); the plan when the model keeps one (`plan.updated`);
 * the files the session changed, each with its diff (from session/diff where the server takes
 * snapshots, so run_command's changes count too; else from the edits' own inputs); the MCP
 * servers, with Sign in for those that need it.
 */
import type { FileDiff, McpServer, Session, Usage } from '../../../protocol/client/index.js';
import { renderDiff, snapshotDiff, type EditDiff } from './diff.js';
import { el } from './dom.js';
import type { FromView } from './messages.js';

export interface PlanEntry { content: string; status: string; priority?: string }

const fmt = (n: number | undefined) => (n === undefined ? '0' : n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : String(n));

export class Sidebar {
  readonly root: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly search: HTMLInputElement;
  private readonly usageEl: HTMLElement;
  private readonly planEl: HTMLElement;
  private readonly changesEl: HTMLElement;
  private readonly mcpEl: HTMLElement;
  private readonly changes = new Map<string, EditDiff[]>();
  private methods = new Set<string>();
  private searchTimer: ReturnType<typeof setTimeout> | undefined;
  currentId: string | undefined;

  constructor(private post: (m: FromView) => void) {
    this.root = el('aside');
    this.root.id = 'sidebar';
    this.root.setAttribute('aria-label', 'Sessions');
    const head = el('div', 'side-head');
    const title = el('h2', '', 'Sessions');
    const add = el('button', '', 'New') as HTMLButtonElement;
    add.type = 'button';
    add.id = 'new';
    add.title = 'New session';
    add.addEventListener('click', () => this.post({ type: 'newSession' }));
    head.append(title, add);
    this.search = el('input') as HTMLInputElement;
    this.search.type = 'search';
    this.search.id = 'sessionSearch';
    this.search.placeholder = 'Search sessions';
    this.search.setAttribute('aria-label', 'Search sessions by name');
    this.search.addEventListener('input', () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.refresh(), 200);
    });
    this.list = el('ul') as HTMLUListElement;
    this.list.id = 'sessionList';
    this.usageEl = el('section', 'usage');
    this.usageEl.id = 'usage';
    this.usageEl.setAttribute('aria-label', 'Usage of this session');
    this.planEl = el('section', 'plan');
    this.planEl.id = 'plan';
    this.planEl.hidden = true;
    this.changesEl = el('section', 'changes');
    this.changesEl.id = 'changes';
    this.changesEl.hidden = true;
    this.mcpEl = el('section', 'mcp');
    this.mcpEl.id = 'mcp';
    this.mcpEl.hidden = true;
    this.root.append(head, this.search, this.list, this.usageEl, this.planEl, this.changesEl, this.mcpEl);
  }

  /** The server's methods: what the sidebar may offer (Compact, MCP servers). */
  setMethods(methods: Set<string>) {
    this.methods = methods;
    if (methods.has('mcp/list')) this.post({ type: 'listMcp' });
  }

  refresh() {
    const search = this.search.value.trim();
    this.post({ type: 'listSessions', ...(search ? { search } : {}) });
    if (this.methods.has('mcp/list')) this.post({ type: 'listMcp' });
  }

  showSessions(sessions: Session[], currentId?: string) {
    if (currentId) this.currentId = currentId;
    this.list.textContent = '';
    if (!sessions.length) this.list.appendChild(el('li', 'empty', this.search.value ? 'No session matches' : 'No sessions yet'));
    for (const s of sessions) this.list.appendChild(this.item(s));
  }

  private item(s: Session): HTMLElement {
    const li = el('li');
    li.dataset.sessionId = s.id;
    const current = s.id === this.currentId;
    if (current) li.classList.add('current');
    const open = el('button', 'open') as HTMLButtonElement;
    open.type = 'button';
    if (current) open.setAttribute('aria-current', 'true');
    open.append(el('span', 'name', s.name || s.id), el('small', '', `${s.provider}/${s.model}${s.status === 'running' ? ' · running' : ''} · ${new Date(s.updatedAt).toLocaleString()}`));
    open.addEventListener('click', () => this.post({ type: 'openSession', sessionId: s.id }));
    const rename = el('button', 'rename secondary', '✎') as HTMLButtonElement;
    rename.type = 'button';
    rename.setAttribute('aria-label', `Rename ${s.name || s.id}`);
    rename.addEventListener('click', () => this.startRename(li, s));
    const del = el('button', 'delete secondary', '✕') as HTMLButtonElement;
    del.type = 'button';
    del.setAttribute('aria-label', `Delete ${s.name || s.id}`);
    del.addEventListener('click', () => {
      if (del.dataset.confirm) { this.post({ type: 'deleteSession', sessionId: s.id }); return; }
      del.dataset.confirm = '1';
      del.textContent = 'Delete?';
      del.setAttribute('aria-label', `Confirm: delete ${s.name || s.id}`);
      setTimeout(() => { delete del.dataset.confirm; del.textContent = '✕'; }, 4000);
    });
    li.append(open, rename, del);
    return li;
  }

  private startRename(li: HTMLElement, s: Session) {
    const input = el('input', 'rename-input') as HTMLInputElement;
    input.value = s.name;
    input.maxLength = 200;
    input.setAttribute('aria-label', 'New name');
    li.textContent = '';
    li.appendChild(input);
    input.focus();
    input.select();
    let done = false;
    const finish = (save: boolean) => {
      if (done) return;
      done = true;
      const name = input.value.trim();
      if (save && name && name !== s.name) this.post({ type: 'renameSession', sessionId: s.id, name });
      else li.replaceWith(this.item(s));
    };
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') { ev.preventDefault(); finish(true); }
      if (ev.key === 'Escape') { ev.preventDefault(); finish(false); }
    });
    input.addEventListener('blur', () => finish(true));
  }

  /** A new current session: its usage, no plan or changes until they come. */
  openSession(s: Session) {
    this.currentId = s.id;
    for (const li of this.list.querySelectorAll<HTMLElement>('li[data-session-id]')) {
      li.classList.toggle('current', li.dataset.sessionId === s.id);
      const b = li.querySelector('button.open');
      if (li.dataset.sessionId === s.id) b?.setAttribute('aria-current', 'true'); else b?.removeAttribute('aria-current');
    }
    this.changes.clear();
    this.drawChanges();
    this.showPlan((s as Session & { plan?: PlanEntry[] }).plan ?? []);
    this.showUsage(s.usage, s.costUsd, s.context);
  }

  showUsage(usage: Usage | undefined, cost: number | null | undefined, context: Session['context'] | undefined) {
    this.usageEl.textContent = '';
    this.usageEl.appendChild(el('h3', '', 'Usage'));
    if (this.methods.has('session/compact') && this.currentId) {
      const id = this.currentId;
      const compact = el('button', 'secondary compact', 'Compact') as HTMLButtonElement;
      compact.type = 'button';
      compact.id = 'compact';
      compact.title = 'Summarize the conversation so far; the model then gets the summary and what follows it';
      compact.addEventListener('click', () => this.post({ type: 'compactSession', sessionId: id }));
      this.usageEl.appendChild(compact);
    }
    const u = usage ?? {};
    this.usageEl.appendChild(el('div', 'tokens', `in ${fmt(u.inputTokens)} · out ${fmt(u.outputTokens)} · cache ${fmt(u.cacheReadInputTokens)} read / ${fmt(u.cacheCreationInputTokens)} write`));
    this.usageEl.appendChild(el('div', 'cost', `cost ${cost === null || cost === undefined ? 'unknown' : `$${cost.toFixed(4)}`}`));
    if (context) {
      const label = el('label', 'context');
      const pct = context.windowTokens ? Math.round((100 * context.usedTokens) / context.windowTokens) : undefined;
      label.append(`context ${fmt(context.usedTokens)}${context.windowTokens ? ` / ${fmt(context.windowTokens)} (${pct}%)` : ''} `);
      if (context.windowTokens) {
        const m = el('meter') as HTMLMeterElement;
        m.min = 0;
        m.max = context.windowTokens;
        m.value = context.usedTokens;
        m.high = context.windowTokens * 0.8;
        label.appendChild(m);
      }
      this.usageEl.appendChild(label);
    }
  }

  showPlan(entries: PlanEntry[]) {
    this.planEl.textContent = '';
    this.planEl.hidden = !entries.length;
    if (!entries.length) return;
    this.planEl.appendChild(el('h3', '', 'Plan'));
    const ol = el('ol');
    const mark: Record<string, string> = { completed: '✓', in_progress: '▸', pending: '○' };
    for (const e of entries.slice(0, 200)) {
      const li = el('li', `plan-${e.status}`, `${mark[e.status] ?? '○'} ${e.content}`);
      ol.appendChild(li);
    }
    this.planEl.appendChild(ol);
  }

  /** What the whole session changed (session/diff): replaces the list. */
  showSessionDiff(files: FileDiff[]) {
    this.changes.clear();
    this.changesEl.textContent = '';
    this.changesEl.hidden = !files.length;
    if (!files.length) return;
    this.changesEl.appendChild(el('h3', '', 'Changed files'));
    for (const f of files.slice(0, 500)) {
      const d = el('details', `changed-file ${f.status}`) as HTMLDetailsElement;
      d.dataset.path = f.path;
      d.dataset.status = f.status;
      const summary = el('summary');
      summary.append(el('span', 'path', f.path), ' ', el('span', 'counts', `${f.status} +${f.additions} −${f.deletions}`));
      d.appendChild(summary);
      d.addEventListener('toggle', () => { if (d.open && d.children.length === 1) d.appendChild(renderDiff(snapshotDiff(f))); });
      this.changesEl.appendChild(d);
    }
  }

  /** The MCP servers: status, and Sign in for those that need it. */
  showMcp(servers: McpServer[]) {
    this.mcpEl.textContent = '';
    this.mcpEl.hidden = !servers.length;
    if (!servers.length) return;
    this.mcpEl.appendChild(el('h3', '', 'MCP servers'));
    const ul = el('ul');
    for (const s of servers.slice(0, 200)) {
      const li = el('li', `mcp-${s.status}`);
      li.dataset.server = s.name;
      li.append(el('span', 'name', s.name), ' ', el('small', 'status', s.status === 'needs_auth' ? 'needs sign-in' : s.status));
      if (s.status === 'needs_auth') {
        const b = el('button', 'signin', 'Sign in') as HTMLButtonElement;
        b.type = 'button';
        b.setAttribute('aria-label', `Sign in to ${s.name}`);
        b.addEventListener('click', () => this.post({ type: 'mcpSignIn', name: s.name }));
        li.append(' ', b);
      }
      if (s.error && s.status !== 'connected') li.title = s.error;
      ul.appendChild(li);
    }
    this.mcpEl.appendChild(ul);
  }

  /** A file edit that succeeded in this session (where the server has no snapshots). */
  addChange(d: EditDiff) {
    const list = this.changes.get(d.path) ?? [];
    if (list.length < 20) list.push(d);
    this.changes.delete(d.path);
    this.changes.set(d.path, list);
    while (this.changes.size > 200) this.changes.delete(this.changes.keys().next().value as string);
    this.drawChanges();
  }

  private drawChanges() {
    this.changesEl.textContent = '';
    this.changesEl.hidden = !this.changes.size;
    if (!this.changes.size) return;
    this.changesEl.appendChild(el('h3', '', 'Changed files'));
    for (const [path, diffs] of this.changes) {
      const d = el('details', 'changed-file') as HTMLDetailsElement;
      d.dataset.path = path;
      d.appendChild(el('summary', '', `${path}${diffs.length > 1 ? ` (${diffs.length} edits)` : ''}`));
      // Drawn when opened: a long session has many diffs.
      d.addEventListener('toggle', () => {
        if (d.open && d.children.length === 1) for (const x of diffs) d.appendChild(renderDiff(x));
      });
      this.changesEl.appendChild(d);
    }
  }
}
