/**
 * The input box of `agentd tui`: multi-line editing (Ctrl-J, Alt-Enter or a trailing `\` before
 * Enter starts a new line; pasted newlines stay), a cursor moved with the arrows, Home/End,
 * Ctrl-A/Ctrl-E, and history with ↑/↓ on the first/last line. Enter submits. The editing rules
 * are plain functions (editKey) so they are tested without a terminal.
 */
import { Box, Text, useInput, type Key } from 'ink';
import { createElement as h, useRef, useState, type ReactNode } from 'react';

export interface EditorState { value: string; cursor: number }

/** Lines of history kept, and characters of one input. */
export const HISTORY_MAX = 200;
export const INPUT_MAX = 100_000;

export type EditResult = { state: EditorState; submit?: string; history?: -1 | 1 };

const lineStart = (v: string, c: number) => v.lastIndexOf('\n', c - 1) + 1;
const lineEnd = (v: string, c: number) => { const i = v.indexOf('\n', c); return i < 0 ? v.length : i; };

function insert(s: EditorState, text: string): EditorState {
  const room = INPUT_MAX - s.value.length;
  const t = text.slice(0, Math.max(0, room));
  return { value: s.value.slice(0, s.cursor) + t + s.value.slice(s.cursor), cursor: s.cursor + t.length };
}

/** What one key does to the input (undefined: not an editing key). */
export function editKey(s: EditorState, input: string, key: Key): EditResult | undefined {
  const { value: v, cursor: c } = s;
  if ((key.return && key.meta) || input === '\n') return { state: insert(s, '\n') };
  if (key.return) {
    if (v.endsWith('\\') && c === v.length) return { state: { value: `${v.slice(0, -1)}\n`, cursor: v.length } };
    return { state: { value: '', cursor: 0 }, submit: v };
  }
  if (key.backspace || key.delete) {
    if (!c) return { state: s };
    return { state: { value: v.slice(0, c - 1) + v.slice(c), cursor: c - 1 } };
  }
  if (key.leftArrow) return { state: { value: v, cursor: Math.max(0, c - 1) } };
  if (key.rightArrow) return { state: { value: v, cursor: Math.min(v.length, c + 1) } };
  if (key.home || (key.ctrl && input === 'a')) return { state: { value: v, cursor: lineStart(v, c) } };
  if (key.end || (key.ctrl && input === 'e')) return { state: { value: v, cursor: lineEnd(v, c) } };
  if (key.ctrl && input === 'u') return { state: { value: v.slice(0, lineStart(v, c)) + v.slice(c), cursor: lineStart(v, c) } };
  if (key.upArrow) {
    const ls = lineStart(v, c);
    if (ls === 0) return { state: s, history: -1 };
    const prev = lineStart(v, ls - 1);
    return { state: { value: v, cursor: Math.min(prev + (c - ls), ls - 1) } };
  }
  if (key.downArrow) {
    const le = lineEnd(v, c);
    if (le === v.length) return { state: s, history: 1 };
    const ls = lineStart(v, c);
    return { state: { value: v, cursor: Math.min(le + 1 + (c - ls), lineEnd(v, le + 1)) } };
  }
  if (key.ctrl || key.meta || key.escape || key.tab || key.pageUp || key.pageDown) return undefined;
  if (!input) return undefined;
  // Typed text and Enter read in one chunk: the text, then Enter.
  if (input.length > 1 && input.endsWith('\r') && !input.slice(0, -1).includes('\r')) {
    const typed = insert(s, input.slice(0, -1));
    return { state: { value: '', cursor: 0 }, submit: typed.value };
  }
  // A paste arrives as one chunk; its line breaks may be \r.
  return { state: insert(s, input.replace(/\r\n?/g, '\n')) };
}

/** Input history: older entries first; browsing keeps the draft. */
export class History {
  entries: string[] = [];
  private pos = 0;
  private draft = '';
  add(text: string) {
    if (text.trim() && this.entries[this.entries.length - 1] !== text) this.entries.push(text);
    if (this.entries.length > HISTORY_MAX) this.entries.splice(0, this.entries.length - HISTORY_MAX);
    this.pos = this.entries.length;
  }
  /** The entry one step back (-1) or forward (1), or undefined at either end. */
  move(dir: -1 | 1, current: string): string | undefined {
    if (this.pos === this.entries.length) this.draft = current;
    const next = this.pos + dir;
    if (next < 0 || next > this.entries.length) return undefined;
    this.pos = next;
    return next === this.entries.length ? this.draft : this.entries[next];
  }
}

export interface EditorProps {
  /** Whether keys go to the box (false while a dialog is open). */
  active: boolean;
  onSubmit: (text: string) => void;
  /** Keys the box does not use (the app's own: Ctrl-C, Ctrl-P, `?`, ...); true when handled. */
  onOtherKey?: (input: string, key: Key, empty: boolean) => boolean;
  history: History;
  placeholder?: string;
  width: number;
}

export function Editor(p: EditorProps): ReactNode {
  const [state, setState] = useState<EditorState>({ value: '', cursor: 0 });
  const ref = useRef(state);
  ref.current = state;
  useInput((input, key) => {
    const s = ref.current;
    if (p.onOtherKey?.(input, key, s.value === '')) return;
    const r = editKey(s, input, key);
    if (!r) return;
    if (r.history) {
      const entry = p.history.move(r.history, s.value);
      if (entry !== undefined) { const n = { value: entry, cursor: entry.length }; ref.current = n; setState(n); }
      return;
    }
    ref.current = r.state;
    setState(r.state);
    if (r.submit !== undefined && r.submit.trim()) {
      p.history.add(r.submit);
      p.onSubmit(r.submit);
    }
  }, { isActive: p.active });

  const { value, cursor } = state;
  const before = value.slice(0, cursor);
  const at = value.slice(cursor, cursor + 1);
  const after = value.slice(cursor + 1);
  const cursorChar = at === '\n' || at === '' ? ' ' : at;
  const body = value === '' && p.placeholder
    ? [h(Text, { key: 'c', inverse: p.active }, ' '), h(Text, { key: 'p', dimColor: true }, p.placeholder)]
    : [before, h(Text, { key: 'c', inverse: p.active }, cursorChar), at === '\n' ? '\n' : '', after];
  return h(Box, { borderStyle: 'round', borderColor: p.active ? 'cyan' : 'gray', paddingX: 1, width: p.width, flexDirection: 'row' },
    h(Text, { color: 'cyan' }, '› '),
    h(Box, { flexShrink: 1, flexGrow: 1 }, h(Text, { wrap: 'wrap' }, ...body)));
}
