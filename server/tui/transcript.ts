/**
 * What `agentd tui` shows of a session, built from its messages (session/get) and then from its
 * events as they stream: user and assistant messages, tool calls with their status and output,
 * and notes (turn cancelled, reconnected, errors). Plain data, no React: the components render it.
 * Every list and text here has a bound, so a long session or a chatty tool cannot grow it without
 * end.
 */
import type { ContentPart, Message, TypedEvent, Usage } from '../../protocol/client/index.js';

export type ToolStatus = 'running' | 'approval' | 'done' | 'error';

export type Item =
  | { kind: 'user'; id: string; text: string }
  | { kind: 'assistant'; id: string; text: string; done: boolean }
  | { kind: 'tool'; id: string; tool: string; input: Record<string, unknown>; status: ToolStatus; output: string; result: string }
  | { kind: 'note'; id: string; text: string; tone: 'dim' | 'error' };

/** Items kept; older ones are dropped (the session keeps them: /sessions reloads it). */
export const MAX_ITEMS = 400;
/** Characters of one message, tool output or result kept (the end is kept for output). */
export const MAX_TEXT = 64 * 1024;

const TURN_END = new Set(['turn.completed', 'turn.failed', 'turn.cancelled', 'turn.interrupted']);

const textOf = (parts: ContentPart[] | undefined) =>
  (parts ?? []).filter((p): p is Extract<ContentPart, { type: 'text' }> => p.type === 'text').map((p) => p.text).join('');

const head = (s: string) => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}\n… (cut)` : s);
const tail = (s: string) => (s.length > MAX_TEXT ? `…${s.slice(s.length - MAX_TEXT)}` : s);

export const totalTokens = (u: Usage | undefined) =>
  (u?.inputTokens ?? 0) + (u?.outputTokens ?? 0) + (u?.cacheReadInputTokens ?? 0) + (u?.cacheCreationInputTokens ?? 0);

export class Transcript {
  items: Item[] = [];
  /** The running turn (undefined when idle). */
  turnId: string | undefined;
  tokens = 0;
  costUsd: number | null = null;
  /** Bumped on every change, for React. */
  version = 0;
  private notes = 0;

  private find<K extends Item['kind']>(kind: K, id: string): Extract<Item, { kind: K }> | undefined {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const it = this.items[i];
      if (it.kind === kind && it.id === id) return it as Extract<Item, { kind: K }>;
    }
    return undefined;
  }

  private push(item: Item) {
    this.items.push(item);
    if (this.items.length > MAX_ITEMS) this.items.splice(0, this.items.length - MAX_ITEMS);
  }

  note(text: string, tone: 'dim' | 'error' = 'dim') {
    this.push({ kind: 'note', id: `note_${++this.notes}`, text, tone });
    this.version++;
  }

  /** The items of stored messages (replacing what was shown). */
  load(messages: Message[], s: { usage?: Usage; costUsd?: number | null; activeTurnId?: string | null } = {}) {
    this.items = [];
    this.turnId = s.activeTurnId ?? undefined;
    this.tokens = totalTokens(s.usage);
    this.costUsd = s.costUsd ?? null;
    for (const m of messages) this.addMessage(m);
    this.version++;
  }

  private addMessage(m: Message) {
    const text = textOf(m.content);
    if (m.role === 'user') {
      if (text) this.push({ kind: 'user', id: m.id, text: head(text) });
    } else if (text || m.status === 'streaming') {
      const existing = this.find('assistant', m.id);
      if (existing) { existing.text = head(text); existing.done = m.status !== 'streaming'; } else this.push({ kind: 'assistant', id: m.id, text: head(text), done: m.status !== 'streaming' });
    }
    for (const p of m.content) {
      if (p.type === 'tool_use' && !this.find('tool', p.id)) {
        this.push({ kind: 'tool', id: p.id, tool: p.name, input: p.input as Record<string, unknown>, status: 'done', output: '', result: '' });
      }
      if (p.type === 'tool_result') {
        const t = this.find('tool', p.toolUseId);
        if (t) { t.result = head(textOf(p.content as ContentPart[])); t.status = p.isError ? 'error' : 'done'; }
      }
    }
  }

  /** Applies one event of the session; returns whether anything changed. */
  apply(e: TypedEvent): boolean {
    const d = e.data as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    switch (e.type) {
      case 'turn.started':
        this.turnId = d.turnId;
        break;
      case 'message.created':
      case 'message.completed':
        this.addMessage(d.message as Message);
        break;
      case 'message.delta': {
        if (d.delta?.type !== 'text_delta') return false;
        let a = this.find('assistant', d.messageId);
        if (!a) { a = { kind: 'assistant', id: d.messageId, text: '', done: false }; this.push(a); }
        if (a.text.length < MAX_TEXT) a.text = head(a.text + d.delta.text);
        break;
      }
      case 'tool.started': {
        const t = this.find('tool', d.callId);
        if (t) { t.status = 'running'; t.input = d.input ?? t.input; } else this.push({ kind: 'tool', id: d.callId, tool: d.tool, input: d.input ?? {}, status: 'running', output: '', result: '' });
        break;
      }
      case 'tool.output': {
        const t = this.find('tool', d.callId);
        if (!t || typeof d.text !== 'string') return false;
        t.output = tail(t.output + d.text);
        break;
      }
      case 'tool.completed':
      case 'tool.failed': {
        let t = this.find('tool', d.callId);
        if (!t) { t = { kind: 'tool', id: d.callId, tool: d.tool, input: d.input ?? {}, status: 'running', output: '', result: '' }; this.push(t); }
        t.status = e.type === 'tool.failed' || d.result?.isError ? 'error' : 'done';
        t.result = head(textOf(d.result?.content) || d.error?.message || '');
        break;
      }
      case 'permission.requested': {
        const t = this.find('tool', d.callId);
        if (t) t.status = 'approval';
        break;
      }
      case 'permission.resolved': {
        const t = this.find('tool', d.callId);
        if (t && t.status === 'approval') t.status = 'running';
        break;
      }
      case 'usage.updated':
        this.tokens = totalTokens(d.sessionUsage);
        this.costUsd = d.sessionCostUsd ?? null;
        break;
      case 'stream.gap':
        this.note('some events were missed; Ctrl-P and Enter reloads the session');
        return true;
      default:
        if (!TURN_END.has(e.type)) return false;
    }
    if (TURN_END.has(e.type)) {
      if (this.turnId === d.turnId) this.turnId = undefined;
      for (const it of this.items) {
        if (it.kind === 'assistant') it.done = true;
        if (it.kind === 'tool' && (it.status === 'running' || it.status === 'approval')) it.status = 'error';
      }
      if (e.type === 'turn.failed') this.note(`turn failed${d.error?.message ? `: ${d.error.message}` : ''}`, 'error');
      if (e.type === 'turn.cancelled') this.note('turn cancelled');
      if (e.type === 'turn.interrupted') this.note(`turn interrupted${d.reason ? `: ${d.reason}` : ''}`);
    }
    this.version++;
    return true;
  }

  /** Whether an item is final (printed once, above the live part of the screen). */
  static final(it: Item): boolean {
    if (it.kind === 'assistant') return it.done;
    if (it.kind === 'tool') return it.status === 'done' || it.status === 'error';
    return true;
  }

  /** How many items from the start are final: those go to the scrollback, the rest stays live. */
  finalCount(): number {
    let n = 0;
    while (n < this.items.length && Transcript.final(this.items[n])) n++;
    return n;
  }
}
