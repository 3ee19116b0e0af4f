// The pieces of `agentd tui` rendered with ink-testing-library (no terminal, no server): Markdown,
// tool blocks, the approval prompt, the pickers, the input box's editing rules, and the
// transcript built from events, with its bounds.
import { render } from 'ink-testing-library';
import { createElement as h } from 'react';
import t from 'tap';
import type { Key } from 'ink';
import { editKey, Editor, History, INPUT_MAX } from '../../server/tui/editor.js';
import { Markdown } from '../../server/tui/markdown.js';
import { MAX_ITEMS, MAX_TEXT, Transcript } from '../../server/tui/transcript.js';
import { ApprovalPrompt, SessionPicker, ToolBlock } from '../../server/tui/views.js';
import type { Session, TypedEvent } from '../../protocol/client/index.js';

const strip = (s: string | undefined) => (s ?? '').replace(/\x1b\[[0-9;]*m/g, '');
const key = (k: Partial<Key> = {}): Key => ({
  upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false,
  return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false,
  super: false, hyper: false, capsLock: false, numLock: false, ...k,
} as Key);
const tick = () => new Promise((r) => setTimeout(r, 20));

t.test('Markdown: bold, inline code, lists, a fenced code block set apart', async (t) => {
  const { lastFrame, unmount } = render(h(Markdown, { text: '# Title\n\nSome **bold** and `code` and [a link](https://x.test).\n\n- one\n- *two*\n\n```js\nconst x = 1;\n```\n' }));
  const out = strip(lastFrame());
  t.notMatch(out, /\*\*|`|\[a link\]/, 'no raw Markdown marks');
  t.match(out, 'Some bold and code and a link (https://x.test).');
  t.match(out, /• one\n• two/);
  t.match(out, /╭─ js\n│ const x = 1;\n╰─/, 'the code block with its language');
  unmount();
  // Half a reply (an unclosed fence, an unclosed **) renders without throwing.
  const half = render(h(Markdown, { text: 'So **bo' }));
  t.match(strip(half.lastFrame()), 'So **bo');
  half.unmount();
  const fence = render(h(Markdown, { text: '```ts\nlet a' }));
  t.match(strip(fence.lastFrame()), 'let a');
  fence.unmount();
});

t.test('ToolBlock: status, the call in one line, a collapsed output, the diff of an edit', async (t) => {
  const output = Array.from({ length: 10 }, (_, i) => `line ${i}`).join('\n');
  const r = render(h(ToolBlock, { item: { kind: 'tool', id: 'c1', tool: 'run_command', input: { command: 'ls -l' }, status: 'done', output, result: '' }, expanded: false }));
  const out = strip(r.lastFrame());
  t.match(out, '✓ run_command ls -l');
  t.match(out, '… 6 more lines (Ctrl-O shows all)');
  t.match(out, 'line 9', 'the end of the output is kept');
  t.notMatch(out, 'line 0');
  r.rerender(h(ToolBlock, { item: { kind: 'tool', id: 'c1', tool: 'run_command', input: { command: 'ls -l' }, status: 'done', output, result: '' }, expanded: true }));
  t.match(strip(r.lastFrame()), 'line 0', 'expanded: all of it');
  r.unmount();
  const e = render(h(ToolBlock, { item: { kind: 'tool', id: 'c2', tool: 'edit_file', input: { path: 'a.ts', old_string: 'a\nb', new_string: 'a\nc' }, status: 'done', output: '', result: 'Replaced 1 occurrence in a.ts' }, expanded: false }));
  t.match(strip(e.lastFrame()), /✓ edit_file a\.ts\n│ {3}a\n│ - b\n│ \+ c/);
  e.unmount();
});

t.test('ApprovalPrompt: the command, the keys, the reason prompt', async (t) => {
  const req = { sessionId: 's', permissionId: 'p', callId: 'c', tool: 'run_command', input: { command: 'rm -rf build' }, summary: 'run_command: rm -rf build' };
  const r = render(h(ApprovalPrompt, { req }));
  t.match(strip(r.lastFrame()), /Allow run_command: rm -rf build\?[\s\S]*\$ rm -rf build[\s\S]*y allow once {3}a always {3}n deny/);
  r.rerender(h(ApprovalPrompt, { req, reason: 'too risky' }));
  t.match(strip(r.lastFrame()), 'Reason (Enter sends, empty for none): too risky');
  r.unmount();
  // A huge write shows a bounded diff.
  const big = { ...req, tool: 'write_file', input: { path: 'x', content: 'l\n'.repeat(10_000) }, summary: 'write_file: x' };
  const b = render(h(ApprovalPrompt, { req: big }));
  t.match(strip(b.lastFrame()), '9970 more lines');
  t.ok(strip(b.lastFrame()).split('\n').length < 45, 'bounded on screen');
  b.unmount();
});

t.test('SessionPicker: the selection, the current session, rename and delete prompts', async (t) => {
  const s = (id: string, name: string) => ({ id, name, provider: 'echo', model: 'echo', status: 'idle' }) as Session;
  const sessions = [s('ses_1', 'alpha'), s('ses_2', 'beta')];
  const r = render(h(SessionPicker, { sessions, query: 'a', selected: 1, current: 'ses_1', mode: 'list', text: '' }));
  const out = strip(r.lastFrame());
  t.match(out, 'search: a');
  t.match(out, '* alpha');
  t.match(out, '  beta');
  r.rerender(h(SessionPicker, { sessions, query: '', selected: 1, current: 'ses_1', mode: 'delete', text: '' }));
  t.match(strip(r.lastFrame()), 'Delete beta and its history? y/n');
  r.rerender(h(SessionPicker, { sessions: [], query: 'zzz', selected: 0, mode: 'list', text: '' }));
  t.match(strip(r.lastFrame()), 'no session matches');
  r.unmount();
});

t.test('editKey: Enter submits, Ctrl-J / Alt-Enter / trailing \\ add a line, arrows move, history at the ends', async (t) => {
  let s = { value: '', cursor: 0 };
  s = editKey(s, 'hello', key())!.state;
  t.same(s, { value: 'hello', cursor: 5 });
  s = editKey(s, '\n', key())!.state;
  s = editKey(s, 'world', key())!.state;
  t.equal(s.value, 'hello\nworld', 'Ctrl-J: a new line');
  t.equal(editKey(s, '', key({ upArrow: true }))!.state.cursor, 5, '↑ moves to the line above');
  t.equal(editKey({ value: 'one', cursor: 1 }, '', key({ upArrow: true }))!.history, -1, '↑ on the first line: history');
  t.equal(editKey({ value: 'one', cursor: 1 }, '', key({ downArrow: true }))!.history, 1);
  t.equal(editKey({ value: 'a\\', cursor: 2 }, '\r', key({ return: true }))!.state.value, 'a\n', 'trailing backslash + Enter: a new line');
  t.equal(editKey({ value: 'a', cursor: 1 }, '\r', key({ return: true, meta: true }))!.state.value, 'a\n', 'Alt-Enter: a new line');
  const sub = editKey(s, '\r', key({ return: true }))!;
  t.equal(sub.submit, 'hello\nworld');
  t.same(sub.state, { value: '', cursor: 0 });
  t.equal(editKey({ value: '', cursor: 0 }, 'hi\r', key())!.submit, 'hi', 'text and Enter in one chunk submit');
  t.equal(editKey({ value: '', cursor: 0 }, 'a\rb', key())!.state.value, 'a\nb', 'a pasted line break stays');
  t.same(editKey({ value: 'ab', cursor: 2 }, '', key({ delete: true }))!.state, { value: 'a', cursor: 1 }, 'Backspace');
  t.same(editKey({ value: 'ab', cursor: 0 }, '', key({ backspace: true }))!.state, { value: 'ab', cursor: 0 });
  t.equal(editKey({ value: '', cursor: 0 }, 'c', key({ ctrl: true })), undefined, 'Ctrl keys are not text');
  const huge = editKey({ value: '', cursor: 0 }, 'x'.repeat(INPUT_MAX + 10), key())!.state;
  t.equal(huge.value.length, INPUT_MAX, 'the input is bounded');
  const hist = new History();
  hist.add('first');
  hist.add('second');
  hist.add('second');
  t.equal(hist.move(-1, 'draft'), 'second');
  t.equal(hist.move(-1, 'second'), 'first');
  t.equal(hist.move(-1, 'first'), undefined, 'the oldest');
  t.equal(hist.move(1, 'first'), 'second');
  t.equal(hist.move(1, 'second'), 'draft', 'back to the draft');
});

t.test('Editor: typing, history with ↑, submit with Enter', async (t) => {
  const sent: string[] = [];
  const history = new History();
  history.add('earlier message');
  const r = render(h(Editor, { active: true, onSubmit: (x: string) => sent.push(x), history, width: 60 }));
  await tick();
  r.stdin.write('hi there');
  await tick();
  t.match(strip(r.lastFrame()), '› hi there');
  r.stdin.write('\r');
  await tick();
  t.same(sent, ['hi there']);
  r.stdin.write('\x1b[A');
  await tick();
  t.match(strip(r.lastFrame()), 'hi there', '↑ recalls the last one');
  r.stdin.write('\x1b[A');
  await tick();
  t.match(strip(r.lastFrame()), 'earlier message');
  r.unmount();
});

t.test('Transcript: events make items, final ones in order, bounds hold', async (t) => {
  const tr = new Transcript();
  let seq = 0;
  const ev = (type: string, data: unknown) => ({ type, sessionId: 's', seq: ++seq, id: seq, data }) as unknown as TypedEvent;
  tr.apply(ev('turn.started', { turnId: 'turn_1' }));
  tr.apply(ev('message.created', { message: { id: 'm_u', sessionId: 's', role: 'user', content: [{ type: 'text', text: 'hi' }], status: 'complete' } }));
  tr.apply(ev('message.delta', { messageId: 'm_a', turnId: 'turn_1', index: 0, delta: { type: 'text_delta', text: 'Hel' } }));
  tr.apply(ev('message.delta', { messageId: 'm_a', turnId: 'turn_1', index: 0, delta: { type: 'text_delta', text: 'lo' } }));
  t.equal(tr.finalCount(), 1, 'the streaming reply is live');
  tr.apply(ev('tool.started', { turnId: 'turn_1', callId: 'c1', tool: 'read_file', input: { path: 'a' } }));
  tr.apply(ev('permission.requested', { permissionId: 'p', turnId: 'turn_1', callId: 'c1', tool: 'read_file', input: {}, summary: '' }));
  t.equal((tr.items[2] as { status: string }).status, 'approval');
  tr.apply(ev('tool.output', { turnId: 'turn_1', callId: 'c1', tool: 'read_file', text: 'x'.repeat(MAX_TEXT + 100) }));
  t.ok((tr.items[2] as { output: string }).output.length <= MAX_TEXT + 1, 'tool output is bounded');
  tr.apply(ev('tool.completed', { turnId: 'turn_1', callId: 'c1', tool: 'read_file', result: { type: 'tool_result', toolUseId: 'c1', content: [{ type: 'text', text: 'ok' }] } }));
  tr.apply(ev('usage.updated', { turnId: 'turn_1', messageId: 'm_a', usage: {}, costUsd: 0.01, sessionUsage: { inputTokens: 10, outputTokens: 5 }, sessionCostUsd: 0.01, context: {} }));
  tr.apply(ev('turn.completed', { turnId: 'turn_1' }));
  t.equal(tr.turnId, undefined, 'idle after the turn');
  t.equal(tr.finalCount(), tr.items.length, 'everything final');
  t.same(tr.items.map((i) => i.kind), ['user', 'assistant', 'tool']);
  t.equal((tr.items[1] as { text: string }).text, 'Hello');
  t.equal(tr.tokens, 15);
  t.equal(tr.costUsd, 0.01);
  t.notOk(tr.apply(ev('mcp.updated', {})), 'other events change nothing');
  for (let i = 0; i < MAX_ITEMS + 50; i++) tr.note(`n${i}`);
  t.equal(tr.items.length, MAX_ITEMS, 'items are bounded');
  tr.apply(ev('turn.cancelled', { turnId: 'x', reason: 'cancelled by client' }));
  t.match(tr.items[tr.items.length - 1], { kind: 'note', text: 'turn cancelled' });
});
