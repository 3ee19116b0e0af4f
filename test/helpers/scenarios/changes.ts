// What the agent changed (issue 18) over stdio, WebSocket and REST + SSE, with the scripted
// Anthropic server: a turn writes one file, edits another and deletes a third through
// run_command; turn.diff and session/diff show exactly those; revert restores the bytes and
// modes (and removes the created file), unrevert puts the turn's result back; revert while a turn
// runs is refused; the workspace's own .git (with hooks and an fsmonitor in its config) is never
// touched; todo_write → plan.updated → session/get; compaction at the threshold (the scripted
// server then sees the summary instead of the old messages) and by session/compact.
// The scenario lives here so that test/conformance/changes.test.ts runs it on SQLite and
// test/conformance/postgres.test.ts on PostgreSQL (one node, and two nodes on one database).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { reply, type AnthropicServer } from '../anthropic-server.js';
import type { Scenario } from '../conformance.js';
import type { Driver, Outcome } from '../driver.js';
import { tempDir, type Json } from '../rpc-client.js';

/** Every file under `dir` with the hash of its bytes and its mode. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(dir, p)] = `${createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16)} ${statSync(p).mode.toString(8)}`;
    }
  };
  walk(dir);
  return out;
}

async function waitNth(d: Driver, sessionId: string, type: string, n: number): Promise<Json> {
  await d.waitForEvent(sessionId, type, () => d.events(sessionId).filter((e) => e.type === type).length >= n, 15_000);
  return d.events(sessionId).filter((e) => e.type === type)[n - 1];
}

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).toString();

/** A workspace that is itself a git repository, with a hook and an fsmonitor that would leave a mark if anything ran them. */
function workspace() {
  const ws = tempDir('agentd-ws-');
  const marker = join(tempDir('agentd-mark-'), 'ran');
  git(ws, 'init', '-q');
  writeFileSync(join(ws, 'keep.txt'), 'one\ntwo\nthree\n');
  writeFileSync(join(ws, 'gone.sh'), '#!/bin/sh\necho gone\n');
  chmodSync(join(ws, 'gone.sh'), 0o755);
  writeFileSync(join(ws, '.gitignore'), 'build/\n');
  git(ws, 'add', '.');
  git(ws, 'commit', '-q', '-m', 'init');
  const evil = join(ws, '.git', 'evil.sh');
  writeFileSync(evil, `#!/bin/sh\ntouch ${marker}\n`);
  chmodSync(evil, 0o755);
  for (const h of ['pre-commit', 'post-checkout', 'post-index-change', 'reference-transaction']) { writeFileSync(join(ws, '.git', 'hooks', h), `#!/bin/sh\ntouch ${marker}\n`); chmodSync(join(ws, '.git', 'hooks', h), 0o755); }
  git(ws, 'config', 'core.fsmonitor', evil);
  // Untracked by the user's repository, ignored by its .gitignore, and a symlink out of the workspace.
  writeFileSync(join(ws, 'notes.md'), 'mine\n');
  writeFileSync(join(tempDir('agentd-out-'), 'x'), '');
  symlinkSync('/etc/hostname', join(ws, 'outside-link'));
  return { ws, marker };
}

const ALLOW = { default: 'allow' as const };

export const changes = (api: AnthropicServer): Scenario => async (d, rec, t) => {
  const init = await d.initialize();
  if (init) t.match(init.capabilities.snapshots, { enabled: true, gitVersion: /^\d/ }, 'initialize: snapshots on, with the git version');
  const expectError = (out: Outcome, code: number, status: number, what: string) => {
    t.equal(out.error?.code, code, `${what}: code ${code}`);
    if (d.transport === 'rest') t.equal(out.status, status, `${what}: HTTP ${status}`);
  };
  await d.request('config/update', { config: { tools: { runCommand: { sandbox: 'off' } } } });
  const { ws, marker } = workspace();
  const userGit = () => tree(join(ws, '.git'));
  const gitBefore = userGit();
  const s = await d.request('session/create', { name: 'changes', provider: 'anthropic', model: 'claude-sonnet-4-6', workspaceRoot: ws, policy: ALLOW });
  await d.subscribe(s.id, s.lastSeq);
  const original = tree(ws);
  delete original['outside-link'];

  // --- turn 1: write one file, edit another, delete a third through run_command
  api.script(
    reply.toolUse([
      { id: 'toolu_w', name: 'write_file', input: { path: 'src/new.txt', content: 'fresh\nfile\n' } },
      { id: 'toolu_e', name: 'edit_file', input: { path: 'keep.txt', old_string: 'two', new_string: 'TWO\nand a half' } },
      { id: 'toolu_r', name: 'run_command', input: { command: 'rm gone.sh' } },
    ]),
    reply.text(['Done.']),
  );
  const r1 = await d.request('session/message', { sessionId: s.id, content: 'change things' });
  t.equal(r1.content[0].text, 'Done.');
  const turn1 = (await waitNth(d, s.id, 'turn.completed', 1)).data.turnId;
  const diffEvent = await waitNth(d, s.id, 'turn.diff', 1);
  const expected = [
    { path: 'gone.sh', status: 'deleted', additions: 0, deletions: 2 },
    { path: 'keep.txt', status: 'modified', additions: 2, deletions: 1 },
    { path: 'src/new.txt', status: 'added', additions: 2, deletions: 0 },
  ];
  t.same(diffEvent.data, { turnId: turn1, files: expected }, 'turn.diff: exactly the three files');
  const types = d.events(s.id).map((e) => e.type);
  t.ok(types.indexOf('turn.diff') < types.indexOf('turn.completed'), 'turn.diff comes before turn.completed');
  rec.note('turn.diff', diffEvent.data);
  const afterTurn1 = tree(ws);

  const d1 = await rec.call('diff of turn 1', 'session/diff', { sessionId: s.id, turnId: turn1 });
  t.same(d1.result.files.map(({ patch: _p, ...f }: Json) => f), expected, 'session/diff of the turn: the same three');
  const keep = d1.result.files.find((f: Json) => f.path === 'keep.txt');
  t.match(keep.patch, /^diff --git a\/keep.txt b\/keep.txt\n[\s\S]*@@ -1,3 \+1,4 @@\n one\n-two\n\+TWO\n\+and a half\n three\n$/, 'a unified diff');
  t.match(d1.result.files.find((f: Json) => f.path === 'gone.sh').patch, /deleted file mode 100755/);
  const whole = await rec.call('diff of the session', 'session/diff', { sessionId: s.id });
  t.same(whole.result, d1.result, 'the whole session: the same (one turn so far)');

  // --- turn 2: no tools, no turn.diff; then the user edits a file by hand
  api.script(reply.text(['Just', ' talk.']));
  await d.request('session/message', { sessionId: s.id, content: 'talk only' });
  await waitNth(d, s.id, 'turn.completed', 2);
  t.equal(d.events(s.id).filter((e) => e.type === 'turn.diff').length, 1, 'a turn without changes sends no turn.diff');
  const turn2 = (await waitNth(d, s.id, 'turn.completed', 2)).data.turnId;
  t.same((await d.request('session/diff', { sessionId: s.id, turnId: turn2 })).files, [], 'its diff is empty');
  writeFileSync(join(ws, 'keep.txt'), 'changed by hand\n');
  const byHand = tree(ws);

  // --- revert to the first message: every byte and mode back, the created file gone
  const msgs = (await d.request('session/get', { sessionId: s.id })).messages;
  const first = msgs[0];
  expectError(await rec.call('revert to an assistant message', 'session/revert', { sessionId: s.id, messageId: msgs[1].id }), -32602, 400, 'not a user message');
  expectError(await rec.call('revert to an unknown message', 'session/revert', { sessionId: s.id, messageId: 'msg_nope' }), -32010, 404, 'unknown message');
  expectError(await rec.call('revert in an unknown session', 'session/revert', { sessionId: 'ses_nope', messageId: first.id }), -32010, 404, 'unknown session');
  const rv = await rec.call('revert', 'session/revert', { sessionId: s.id, messageId: first.id });
  t.same(rv.result.files, [
    { path: 'gone.sh', status: 'added' }, { path: 'keep.txt', status: 'modified' }, { path: 'src/new.txt', status: 'deleted' },
  ], 'revert: what it changed');
  t.same(rv.result.overwritten, ['keep.txt'], 'the file changed by hand is listed');
  const now = tree(ws);
  delete now['outside-link'];
  t.same(now, original, 'the workspace is exactly as before the turn (bytes and modes)');
  t.notOk(existsSync(join(ws, 'src')), 'the created file (and its directory) are gone');
  t.equal(statSync(join(ws, 'gone.sh')).mode & 0o777, 0o755, 'the deleted script is back, executable');
  const reverted = await d.waitForEvent(s.id, 'session.reverted');
  t.same(reverted.data, { messageId: first.id, files: rv.result.files });
  const marked = (await d.request('session/get', { sessionId: s.id })).messages;
  t.same(marked.map((m: Json) => m.reverted === true), marked.map(() => true), 'every message from the reverted one on is marked');
  expectError(await rec.call('diff of an unknown turn', 'session/diff', { sessionId: s.id, turnId: 'turn_nope' }), -32010, 404, 'unknown turn');

  // --- unrevert: the turn's result (and the hand edit) back
  const ur = await rec.call('unrevert', 'session/unrevert', { sessionId: s.id });
  t.same(ur.result.files, [
    { path: 'gone.sh', status: 'deleted' }, { path: 'keep.txt', status: 'modified' }, { path: 'src/new.txt', status: 'added' },
  ]);
  t.same(tree(ws), byHand, 'unrevert: the workspace as it was before the revert');
  t.notOk(byHand['gone.sh'], 'gone.sh deleted again');
  t.same(afterTurn1['src/new.txt'], byHand['src/new.txt']);
  await d.waitForEvent(s.id, 'session.unreverted');
  t.ok((await d.request('session/get', { sessionId: s.id })).messages.every((m: Json) => m.reverted === undefined), 'no message marked any more');
  expectError(await rec.call('unrevert twice', 'session/unrevert', { sessionId: s.id }), -32012, 409, 'nothing to unrevert');

  // --- revert, then a new message: the reverted messages are not sent again; unrevert is over
  await d.request('session/revert', { sessionId: s.id, messageId: msgs.find((m: Json) => m.role === 'user' && m.turnId === turn2).id });
  const seen = api.requests.length;
  api.script(reply.text(['After', ' revert.']));
  await d.request('session/message', { sessionId: s.id, content: 'next' });
  const sent = api.requests[seen].body.messages;
  const sentText = JSON.stringify(sent);
  t.ok(sentText.includes('change things') && !sentText.includes('talk only') && !sentText.includes('Just talk'), 'the model gets the history without the reverted turn');
  expectError(await rec.call('unrevert after a new message', 'session/unrevert', { sessionId: s.id }), -32012, 409, 'the revert is final');
  const all = (await d.request('session/get', { sessionId: s.id })).messages;
  t.same(all.map((m: Json) => m.reverted === true), [false, false, false, false, true, true, false, false], 'reverted messages are kept, marked');

  // --- revert while a turn runs is refused
  api.script(reply.hangAfter(['wait']));
  await d.request('session/message', { sessionId: s.id, content: 'hang', async: true });
  await waitNth(d, s.id, 'turn.started', 4);
  expectError(await rec.call('revert while running', 'session/revert', { sessionId: s.id, messageId: first.id }), -32011, 409, 'busy');
  expectError(await rec.call('unrevert while running', 'session/unrevert', { sessionId: s.id }), -32011, 409, 'busy');
  expectError(await rec.call('compact while running', 'session/compact', { sessionId: s.id }), -32011, 409, 'busy');
  await d.request('session/cancel', { sessionId: s.id });

  // --- the user's repository is untouched; nothing of it ran
  t.same(userGit(), gitBefore, 'the workspace .git: every file, byte and mode as before');
  t.notOk(existsSync(marker), 'no hook or fsmonitor of the workspace ran');
  t.equal(git(ws, 'status', '--porcelain').includes('notes.md'), true, 'and the user repository still works');

  // --- plans
  api.script(
    reply.toolUse([{ id: 'toolu_p', name: 'todo_write', input: { todos: [{ content: 'read the code', status: 'completed', priority: 'high' }, { content: 'fix it', status: 'in_progress' }] } }]),
    reply.text(['Planned.']),
  );
  const p = await d.request('session/create', { name: 'plan', provider: 'anthropic', model: 'claude-sonnet-4-6', workspaceRoot: tempDir('agentd-ws-') });
  await d.subscribe(p.id, p.lastSeq);
  t.same((await d.request('session/get', { sessionId: p.id })).plan, [], 'no plan before todo_write');
  await d.request('session/message', { sessionId: p.id, content: 'plan it' });
  const plan = await d.waitForEvent(p.id, 'plan.updated');
  const entries = [{ content: 'read the code', status: 'completed', priority: 'high' }, { content: 'fix it', status: 'in_progress' }];
  t.same(plan.data.entries, entries, 'plan.updated carries the whole list');
  t.notOk(d.events(p.id).some((e) => e.type === 'permission.requested'), 'todo_write asks nobody');
  const got = { result: await d.request('session/get', { sessionId: p.id }) };
  rec.note('plan', got.result.plan);
  t.same(got.result.plan, entries, 'session/get returns the plan');
  t.same(got.result.session.plan, entries);
  t.notOk(d.events(p.id).some((e) => e.type === 'turn.diff'), 'a plan changes no file');

  // --- compaction at the threshold (claude-sonnet-4-6: a 200000-token window; 0.8 → 160000)
  const c = await d.request('session/create', { name: 'compact', provider: 'anthropic', model: 'claude-sonnet-4-6', workspaceRoot: tempDir('agentd-ws-'), policy: ALLOW });
  await d.subscribe(c.id, c.lastSeq);
  api.script(reply.text(['Earlier', ' answer.']));
  await d.request('session/message', { sessionId: c.id, content: 'an old question' });
  const before = api.requests.length;
  api.script(
    reply.toolUse([{ id: 'toolu_l', name: 'list_files', input: { path: '.' } }], undefined, { usage: { input_tokens: 170_000 } }),
    reply.text(['The gist: an old question was asked.']),
    reply.text(['Continued.']),
  );
  const r = await d.request('session/message', { sessionId: c.id, content: 'a big one' });
  t.equal(r.content[0].text, 'Continued.');
  t.equal(api.requests.length - before, 3, 'three calls: the tool call, the summary, the next step');
  t.match(JSON.stringify(api.requests[before + 1].body.messages.at(-1)), /Summarize this conversation/, 'the second asks for the summary');
  const next = api.requests[before + 2].body.messages;
  t.equal(next.length, 1, 'the next call gets the summary alone');
  t.match(JSON.stringify(next), /Summary of the conversation so far:\\n\\nThe gist: an old question was asked\./);
  t.notMatch(JSON.stringify(next), /an old question"|Earlier answer/, 'not the old messages');
  const compacted = await d.waitForEvent(c.id, 'session.compacted');
  t.match(compacted.data, { tokensBefore: 170_000, tokensAfter: Math.ceil(('Summary of the conversation so far:\n\n'.length + 36) / 4) });
  const cm = (await d.request('session/get', { sessionId: c.id })).messages;
  const summary = cm.find((m: Json) => m.id === compacted.data.summaryMessageId);
  t.match(summary, { role: 'user', kind: 'summary' }, 'stored as a message of kind summary');
  t.equal(cm[0].content[0].text, 'an old question', 'the whole history stays readable');
  // The next turn: the summary plus what came after it.
  const before2 = api.requests.length;
  api.script(reply.text(['Fine.']));
  await d.request('session/message', { sessionId: c.id, content: 'and now' });
  const third = JSON.stringify(api.requests[before2].body.messages);
  t.ok(third.includes('The gist') && third.includes('Continued.') && third.includes('and now') && !third.includes('an old question"'), 'the next turn: summary and what follows');

  // --- session/compact on the echo provider: deterministic
  const e = await d.request('session/create', { name: 'echo', workspaceRoot: tempDir('agentd-ws-') });
  await d.subscribe(e.id, e.lastSeq);
  expectError(await rec.call('compact an empty session', 'session/compact', { sessionId: e.id }), -32012, 409, 'nothing to compact');
  await d.request('session/message', { sessionId: e.id, content: 'first words' });
  await d.request('session/message', { sessionId: e.id, content: 'second words' });
  const cr = await rec.call('compact', 'session/compact', { sessionId: e.id });
  t.match(cr.result, { sessionId: e.id, tokensBefore: 12, tokensAfter: Math.ceil(('Summary of the conversation so far:\n\n4 messages; the user said: first words | second words').length / 4) });
  const ev = await d.waitForEvent(e.id, 'session.compacted');
  t.same(ev.data, { summaryMessageId: cr.result.summaryMessageId, tokensBefore: cr.result.tokensBefore, tokensAfter: cr.result.tokensAfter });
  const er = await d.request('session/message', { sessionId: e.id, content: 'third' });
  t.equal(er.content[0].text, 'Echo: third');
  expectError(await rec.call('compact an unknown session', 'session/compact', { sessionId: 'ses_nope' }), -32010, 404, 'unknown');
};
