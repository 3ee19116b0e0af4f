/**
 * The pieces of the `agentd tui` screen that only show things: a transcript item (a message as
 * Markdown, a tool call as a compact block, a note), the approval prompt, the dialogs (session
 * picker, model picker, key map) and the status line. Keys are handled by the app (app.ts), which
 * passes the state in.
 */
import { Box, Text } from 'ink';
import { createElement as h, type ReactNode } from 'react';
import type { PermissionRequestParams, Session } from '../../protocol/client/index.js';
import { callDiff, callSummary, type DiffLine } from './diff.js';
import { Markdown } from './markdown.js';
import type { Item } from './transcript.js';

const STATUS_MARK = { running: ['…', 'yellow'], approval: ['?', 'yellow'], done: ['✓', 'green'], error: ['✗', 'red'] } as const;

/** Lines of a collapsed tool output or result shown. */
export const COLLAPSED_LINES = 4;

function clip(text: string, expanded: boolean, fromEnd = false): string[] {
  const lines = text.replace(/\n+$/, '').split('\n');
  if (expanded || lines.length <= COLLAPSED_LINES) return lines;
  const more = `… ${lines.length - COLLAPSED_LINES} more lines (Ctrl-O shows all)`;
  return fromEnd ? [more, ...lines.slice(-COLLAPSED_LINES)] : [...lines.slice(0, COLLAPSED_LINES), more];
}

export function Diff({ lines }: { lines: DiffLine[] }): ReactNode {
  return h(Box, { flexDirection: 'column' }, ...lines.map((l, i) => h(Text, {
    key: i, color: l.sign === '+' ? 'green' : l.sign === '-' ? 'red' : undefined, dimColor: l.sign === ' ' || l.sign === '…',
  }, l.sign === '…' ? `  … ${l.text}` : `${l.sign} ${l.text}`)));
}

export function ToolBlock({ item, expanded }: { item: Extract<Item, { kind: 'tool' }>; expanded: boolean }): ReactNode {
  const [mark, color] = STATUS_MARK[item.status];
  const diff = callDiff(item.tool, item.input, expanded ? 400 : 12);
  const output = item.output ? clip(item.output, expanded, true) : [];
  const result = item.result && !(item.output && item.status === 'done') ? clip(item.result, expanded) : [];
  return h(Box, { flexDirection: 'column', borderStyle: 'single', borderLeft: true, borderRight: false, borderTop: false, borderBottom: false, borderColor: color, paddingLeft: 1 },
    h(Text, {}, h(Text, { color }, `${mark} `), h(Text, { bold: true }, callSummary(item.tool, item.input)), item.status === 'approval' ? h(Text, { color: 'yellow' }, '  (waiting for approval)') : ''),
    diff && item.status !== 'error' && item.status !== 'approval' ? h(Diff, { lines: diff }) : null,
    ...output.map((l, i) => h(Text, { key: `o${i}`, dimColor: true }, l)),
    ...result.map((l, i) => h(Text, { key: `r${i}`, color: item.status === 'error' ? 'red' : undefined, dimColor: item.status !== 'error' }, l)));
}

export function ItemView({ item, expanded }: { item: Item; expanded: boolean }): ReactNode {
  switch (item.kind) {
    case 'user':
      return h(Box, { marginTop: 1 }, h(Text, { color: 'cyan', bold: true }, '› '), h(Text, {}, item.text));
    case 'assistant':
      // A reply that is only tool calls has no text: nothing to show (the status line says working…).
      return item.text ? h(Box, { marginTop: 1, flexDirection: 'column' }, h(Markdown, { text: item.text })) : null;
    case 'tool':
      return h(Box, { marginTop: 1 }, h(ToolBlock, { item, expanded }));
    case 'note':
      return h(Text, { color: item.tone === 'error' ? 'red' : undefined, dimColor: item.tone === 'dim' }, `· ${item.text}`);
  }
}

export interface PendingApproval { req: PermissionRequestParams; answer: (decision: 'allow_once' | 'allow_always' | 'deny', reason?: string) => void }

export function ApprovalPrompt({ req, reason, otherSession }: { req: PermissionRequestParams; reason?: string; otherSession?: boolean }): ReactNode {
  const input = (req.input ?? {}) as Record<string, unknown>;
  const diff = callDiff(req.tool, input);
  return h(Box, { flexDirection: 'column', borderStyle: 'round', borderColor: 'yellow', paddingX: 1 },
    h(Text, { bold: true, color: 'yellow' }, `Allow ${req.summary.startsWith(req.tool) ? req.summary : `${req.tool}: ${req.summary}`}?${otherSession ? `  (session ${req.sessionId})` : ''}`),
    typeof input.command === 'string' ? h(Text, {}, h(Text, { dimColor: true }, '$ '), input.command) : null,
    diff ? h(Diff, { lines: diff }) : typeof input.command === 'string' ? null : h(Text, { dimColor: true }, JSON.stringify(input).slice(0, 400)),
    reason === undefined
      ? h(Text, {}, h(Text, { bold: true }, 'y'), ' allow once   ', h(Text, { bold: true }, 'a'), ' always   ', h(Text, { bold: true }, 'n'), ' deny')
      : h(Text, {}, 'Reason (Enter sends, empty for none): ', reason, h(Text, { inverse: true }, ' ')));
}

export function SessionPicker({ sessions, query, selected, current, mode, text }: {
  sessions: Session[]; query: string; selected: number; current?: string;
  /** 'list', or an inline prompt: 'rename' (text is the new name) or 'delete' (confirm). */
  mode: 'list' | 'rename' | 'delete'; text: string;
}): ReactNode {
  const rows = 10;
  const first = Math.max(0, Math.min(selected - rows + 1, sessions.length - rows));
  const shown = sessions.slice(first, first + rows);
  const sel = sessions[selected];
  return h(Box, { flexDirection: 'column', borderStyle: 'round', borderColor: 'cyan', paddingX: 1 },
    h(Text, { bold: true }, 'Sessions  ', h(Text, { dimColor: true }, 'search: '), query, h(Text, { inverse: mode === 'list' }, ' ')),
    ...(shown.length ? shown.map((s, i) => {
      const idx = first + i;
      return h(Text, { key: s.id, inverse: idx === selected, wrap: 'truncate' },
        `${s.id === current ? '*' : ' '} ${s.name || '(unnamed)'}  `, h(Text, { dimColor: idx !== selected }, `${s.provider}/${s.model} · ${s.status} · ${s.id}`));
    }) : [h(Text, { key: 'none', dimColor: true }, query ? 'no session matches' : 'no sessions')]),
    mode === 'rename' && sel ? h(Text, {}, 'New name: ', text, h(Text, { inverse: true }, ' ')) : null,
    mode === 'delete' && sel ? h(Text, { color: 'red' }, `Delete ${sel.name || sel.id} and its history? y/n`) : null,
    h(Text, { dimColor: true }, '↑↓ select · Enter open · Ctrl-N new · Ctrl-R rename · Ctrl-D delete · Ctrl-F fork · Esc close'));
}

export interface ModelChoice { provider: string; model: string; authenticated: boolean; isDefault: boolean }

export function ModelPicker({ models, selected, current }: { models: ModelChoice[]; selected: number; current: string }): ReactNode {
  const rows = 10;
  const first = Math.max(0, Math.min(selected - rows + 1, models.length - rows));
  return h(Box, { flexDirection: 'column', borderStyle: 'round', borderColor: 'cyan', paddingX: 1 },
    h(Text, { bold: true }, 'Model for the next turns'),
    ...models.slice(first, first + rows).map((m, i) => h(Text, { key: `${m.provider}/${m.model}`, inverse: first + i === selected, wrap: 'truncate' },
      `${`${m.provider}/${m.model}` === current ? '*' : ' '} ${m.provider}/${m.model}${m.isDefault ? ' (default)' : ''}${m.authenticated ? '' : ' (needs a key)'}`)),
    h(Text, { dimColor: true }, '↑↓ select · Enter switch · Esc close'));
}

export const KEYS: Array<[string, string]> = [
  ['Enter', 'send the message'],
  ['Ctrl-J, Alt-Enter, \\ Enter', 'new line in the message'],
  ['↑ / ↓', 'history (on the first / last line)'],
  ['Ctrl-C', 'cancel the running turn; twice: quit'],
  ['Ctrl-P', 'sessions: search, open, new, rename, delete, fork'],
  ['Ctrl-N', 'new session'],
  ['Ctrl-O', 'show or hide all tool output'],
  ['Ctrl-L', 'redraw the screen'],
  ['y / a / n', 'approval: allow once / always / deny (then a reason)'],
  ['Esc', 'close a dialog'],
  ['?', 'this key map (when the input is empty)'],
  ['/model, /sessions, /new, /rename NAME, /quit', 'commands'],
];

export function KeyHelp(): ReactNode {
  return h(Box, { flexDirection: 'column', borderStyle: 'round', borderColor: 'cyan', paddingX: 1 },
    h(Text, { bold: true }, 'Keys'),
    ...KEYS.map(([k, what]) => h(Text, { key: k }, h(Text, { bold: true }, k.padEnd(22)), ' ', what)),
    h(Text, { dimColor: true }, 'Esc closes'));
}

const fmtTokens = (n: number) => (n >= 1_000_000 ? `${(n / 1_000_000).toFixed(1)}M` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(n));

export function StatusLine({ session, connection, transport, tokens, costUsd, running, hint }: {
  session?: Session; connection: string; transport: string; tokens: number; costUsd: number | null; running: boolean; hint?: string;
}): ReactNode {
  const connColor = connection === 'connected' ? 'green' : connection === 'reconnecting' || connection === 'connecting' ? 'yellow' : 'red';
  return h(Box, { flexDirection: 'row', justifyContent: 'space-between' },
    h(Box, { flexShrink: 1 }, h(Text, { wrap: 'truncate' },
      session ? h(Text, { bold: true }, session.name || session.id) : h(Text, { dimColor: true }, 'no session'),
      session ? h(Text, { dimColor: true }, ` · ${session.provider}/${session.model}`) : '',
      h(Text, { color: connColor }, ` · ${connection}`), h(Text, { dimColor: true }, ` (${transport})`),
      ` · ${fmtTokens(tokens)} tokens`, costUsd !== null ? ` · $${costUsd.toFixed(4)}` : '',
      running ? h(Text, { color: 'yellow' }, ' · working…') : '')),
    // The hint (Ctrl-C again quits) is never cut: the left part gives way.
    h(Box, { flexShrink: 0, marginLeft: 1 }, h(Text, { color: hint ? 'yellow' : undefined, dimColor: !hint }, hint ?? '? keys')));
}
