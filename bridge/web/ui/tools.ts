/**
 * Tool calls as cards: the tool's name, a one-line summary of its input, its status (running,
 * waiting for approval, done, failed, denied), the diff of a file edit, the command and exit code of
 * run_command, the input, and the streamed output in a collapsible block capped in height and in
 * length (a tool can print megabytes). Approvals are asked inside the card of the call.
 */
import type { PermissionAnswerer, PermissionDecision, PermissionRequestParams } from '../../../protocol/client/index.js';
import { editDiff, renderDiff, type EditDiff } from './diff.js';
import { el } from './dom.js';

/** At most this many characters of a tool's output are kept in the page; the rest is counted. */
export const OUTPUT_MAX = 100_000;
const INPUT_MAX = 20_000;

export type ToolStatus = 'running' | 'waiting' | 'done' | 'failed' | 'denied';

const json = (v: unknown) => { try { return JSON.stringify(v, null, 2) ?? ''; } catch { return String(v); } };
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}… [${s.length - n} more characters]` : s);

/** One line saying what the call does. */
export function summarize(tool: string, input: unknown): string {
  const i = (input ?? {}) as Record<string, unknown>;
  const first = typeof i.command === 'string' ? i.command : typeof i.path === 'string' ? i.path
    : Object.values(i).find((v) => typeof v === 'string') as string | undefined;
  return clip((first ?? '').split('\n')[0], 120);
}

export class ToolCard {
  readonly root: HTMLDetailsElement;
  private readonly statusEl: HTMLElement;
  private readonly summaryEl: HTMLElement;
  private readonly inputEl: HTMLElement;
  private readonly outputEl: HTMLElement;
  private readonly extraEl: HTMLElement;
  private readonly approvalSlot: HTMLElement;
  private kept = 0;
  private dropped = 0;
  private droppedNote: HTMLElement | undefined;
  status: ToolStatus = 'running';
  diff: EditDiff | undefined;

  constructor(readonly callId: string, readonly tool: string, input: unknown) {
    this.root = el('details', 'tool running') as HTMLDetailsElement;
    this.root.dataset.callId = callId;
    this.root.dataset.tool = tool;
    this.root.open = true;
    const summary = el('summary');
    summary.append(el('span', 'tool-name', tool), ' ');
    this.summaryEl = el('span', 'tool-summary');
    this.statusEl = el('span', 'tool-status', 'running');
    this.statusEl.setAttribute('role', 'status');
    summary.append(this.summaryEl, ' ', this.statusEl);
    this.extraEl = el('div', 'tool-extra');
    this.approvalSlot = el('div', 'approval-slot');
    const inputBox = el('details', 'tool-input');
    inputBox.append(el('summary', 'label', 'input'));
    this.inputEl = el('pre', 'input');
    inputBox.appendChild(this.inputEl);
    this.outputEl = el('pre', 'output');
    this.outputEl.tabIndex = 0;
    this.outputEl.setAttribute('aria-label', `${tool} output`);
    this.root.append(summary, this.extraEl, this.approvalSlot, inputBox, el('div', 'label', 'output'), this.outputEl);
    this.setInput(input);
  }

  setInput(input: unknown) {
    if (input === undefined) return;
    const text = json(input);
    if (text === '{}' && this.inputEl.textContent) return;
    this.inputEl.textContent = clip(text, INPUT_MAX);
    this.summaryEl.textContent = summarize(this.tool, input);
    this.extraEl.textContent = '';
    const i = (input ?? {}) as Record<string, unknown>;
    if (this.tool === 'run_command' && typeof i.command === 'string') this.extraEl.appendChild(el('pre', 'command', `$ ${clip(i.command, INPUT_MAX)}`));
    this.diff = editDiff(this.tool, input);
    if (this.diff) this.extraEl.appendChild(renderDiff(this.diff));
  }

  /** Streamed output (tool.output). */
  appendOutput(text: string) {
    const room = OUTPUT_MAX - this.kept;
    const piece = room > 0 ? text.slice(0, room) : '';
    this.kept += piece.length;
    this.dropped += text.length - piece.length;
    if (piece) this.outputEl.appendChild(document.createTextNode(piece));
    if (this.dropped) {
      this.droppedNote ??= this.root.appendChild(el('div', 'note truncated'));
      this.droppedNote.textContent = `[${this.dropped} more characters of output not shown]`;
    }
    if (this.root.open) this.outputEl.scrollTop = this.outputEl.scrollHeight;
  }

  /** The final result replaces what streamed (it is the whole output, capped by the server). */
  finish(text: string, isError: boolean) {
    this.outputEl.textContent = '';
    this.kept = 0;
    this.dropped = 0;
    this.appendOutput(text);
    const denied = isError && /^Permission denied/.test(text);
    this.setStatus(denied ? 'denied' : isError ? 'failed' : 'done');
    this.extraEl.querySelector('.exit-code')?.remove();
    if (this.tool === 'run_command') {
      const code = isError ? /^Exit code (\S+)/.exec(text)?.[1] : '0';
      if (code !== undefined) this.extraEl.appendChild(el('div', 'exit-code', `exit code ${code}`));
    }
  }

  setStatus(s: ToolStatus) {
    this.root.classList.remove(this.status);
    this.status = s;
    this.root.classList.add(s);
    this.statusEl.textContent = s === 'waiting' ? 'waiting for approval' : s;
  }

  get approvalArea() { return this.approvalSlot; }
}

export const DECISIONS: Array<{ decision: PermissionDecision; label: string; key: string; shift?: boolean }> = [
  { decision: 'allow_once', label: 'Allow once', key: 'y' },
  { decision: 'allow_always', label: 'Always allow', key: 'a' },
  { decision: 'deny', label: 'Deny', key: 'n' },
  { decision: 'deny_always', label: 'Deny always', key: 'n', shift: true },
];

const shortcut = (d: (typeof DECISIONS)[number]) => `Alt+${d.shift ? 'Shift+' : ''}${d.key.toUpperCase()}`;
const isDeny = (d: PermissionDecision) => d === 'deny' || d === 'deny_always';

/**
 * The approval asked in a card: summary, a button per decision the server takes (Deny always only
 * where it has `deny_always`), an optional reason for Deny / Deny always.
 */
export function approvalBox(req: PermissionRequestParams, answer: (d: PermissionDecision, reason?: string) => void, offered: readonly PermissionDecision[]): HTMLElement {
  const box = el('div', 'approval');
  box.dataset.permissionId = req.permissionId;
  box.tabIndex = -1;
  box.setAttribute('role', 'group');
  box.setAttribute('aria-label', `Approval for ${req.tool}`);
  box.append(el('div', 'title', `Allow ${req.tool}?`), el('div', 'summary', req.summary));
  const buttons = el('div', 'buttons');
  const reason = el('input', 'reason') as HTMLInputElement;
  reason.type = 'text';
  reason.placeholder = 'Reason (optional, sent with Deny)';
  reason.setAttribute('aria-label', 'Reason for denying');
  reason.maxLength = 2000;
  for (const d of DECISIONS) {
    if (!offered.includes(d.decision)) continue;
    const b = el('button', isDeny(d.decision) ? 'secondary' : '', d.label) as HTMLButtonElement;
    b.type = 'button';
    b.dataset.decision = d.decision;
    b.setAttribute('aria-keyshortcuts', shortcut(d));
    b.title = `${d.label} (${shortcut(d)})${d.decision === 'deny_always' ? ': this tool is denied for the rest of the session' : ''}`;
    b.addEventListener('click', () => answer(d.decision, isDeny(d.decision) ? reason.value.trim() || undefined : undefined));
    buttons.appendChild(b);
  }
  reason.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') { ev.preventDefault(); answer('deny', reason.value.trim() || undefined); }
  });
  box.append(buttons, reason);
  return box;
}

/** Who answered, in words. */
export function answeredBy(by: PermissionAnswerer | 'you' | undefined): string {
  if (!by) return '';
  if (by === 'you') return ' (here)';
  if (by.type === 'server') return ' (by the server)';
  return ` (by ${by.clientName ?? 'another client'}${by.transport ? ` over ${by.transport}` : ''})`;
}
