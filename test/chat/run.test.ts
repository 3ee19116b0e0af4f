// `agentd run` as a script uses it (through pipes) and as a user does (Ctrl-C in tmux); piped
// `agentd chat`; `agentd session` with no server running. Real processes throughout: the
// in-process server on a temp data dir, a real `agentd serve` for --url, the scripted
// Anthropic server for a real provider.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { AgentClient, nodeWebSocketConnector, type TypedEvent } from '../../protocol/client/node.js';
import { localStdio, until } from '../helpers/agent-client.js';
import { reply, startAnthropicServer, type Json } from '../helpers/anthropic-server.js';
import { AGENTD, spawnHttp, tempDir } from '../helpers/rpc-client.js';
import { hasTmux, Tmux } from '../helpers/tmux.js';

const baseEnv = { AGENTD_CHECK_RESULTS: '1', NO_COLOR: '1', AGENTD_URL: '', AGENTD_API_KEY: '', AGENTD_LOG_LEVEL: 'info' };

interface Ran { status: number | null; stdout: string; stderr: string }

/** Runs agentd with `input` on stdin (closed at once without), asynchronously: scripted servers live in this process. */
function agentd(args: string[], o: { input?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [AGENTD, ...args], { cwd: o.cwd ?? tempDir('agentd-run-cwd-'), env: { ...process.env, ...baseEnv, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`agentd ${args.join(' ')} timed out; stderr: ${stderr}`)); }, o.timeoutMs ?? 30_000);
    proc.on('exit', (status) => { clearTimeout(timer); setImmediate(() => resolve({ status, stdout, stderr })); });
    proc.stdin.end(o.input ?? '');
  });
}

const jsonLines = (s: string) => s.trimEnd().split('\n').map((l) => JSON.parse(l) as Json);

t.test('one-shot reply (echo): text on stdout, nothing else anywhere; the server logs to the data dir', async (t) => {
  const dataDir = tempDir();
  const r = await agentd(['run', 'hello there', '--data-dir', dataDir]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'Echo: hello there\n');
  t.equal(r.stderr, '', 'no server log line on the terminal');
  t.match(readFileSync(join(dataDir, 'agentd.log'), 'utf8'), /"msg":"agentd serving in-process"/, 'the log went to <data dir>/agentd.log');
  const verbose = await agentd(['run', 'hi', '--data-dir', dataDir, '--verbose']);
  t.equal(verbose.stdout, 'Echo: hi\n');
  t.match(verbose.stderr, /"msg":"agentd serving in-process"/, '--verbose shows the log on stderr');
});

t.test('the prompt from stdin, from the argument plus stdin, and usage errors', async (t) => {
  const dataDir = tempDir();
  const piped = await agentd(['run', '--data-dir', dataDir], { input: 'from stdin\n' });
  t.equal(piped.stdout, 'Echo: from stdin\n');
  const dash = await agentd(['run', '-', '--data-dir', dataDir], { input: 'dash' });
  t.equal(dash.stdout, 'Echo: dash\n');
  const both = await agentd(['run', 'review this', '--data-dir', dataDir, '--json'], { input: 'line 1\nline 2\n' });
  t.equal(both.status, 0, both.stderr);
  const user = jsonLines(both.stdout).find((e) => e.type === 'message.created' && e.data.message.role === 'user');
  t.same(user.data.message.content, [{ type: 'text', text: 'review this\n\nline 1\nline 2' }], 'the argument, then stdin as context');
  const empty = await agentd(['run', '--data-dir', dataDir]);
  t.equal(empty.status, 2, 'no prompt at all is a usage error');
  t.match(empty.stderr, /the prompt is empty/);
  const both2 = await agentd(['run', 'x', '--session', 'ses_x', '--continue', '--data-dir', dataDir]);
  t.equal(both2.status, 2, '--session with --continue is a usage error');
  const badRule = await agentd(['run', 'x', '--allow', ':x', '--data-dir', dataDir]);
  t.equal(badRule.status, 2, 'an --allow without a tool is a usage error');
  const missing = await agentd(['run', 'x', '--session', 'ses_nope', '--data-dir', dataDir]);
  t.equal(missing.status, 1, 'an unknown session fails (1)');
  t.match(missing.stderr, /session not found: ses_nope/);
});

t.test('--json: the turn\'s events in order, one per line, then the final message; nothing else', async (t) => {
  const dataDir = tempDir();
  const r = await agentd(['run', 'one two three', '--json', '--data-dir', dataDir]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr, '');
  const lines = jsonLines(r.stdout);
  const final = lines.pop();
  t.equal(final.role, 'assistant');
  t.same(final.content, [{ type: 'text', text: 'Echo: one two three' }]);
  const types = lines.map((e) => e.type);
  t.same(types, ['message.created', 'turn.started', 'message.created', 'message.delta', 'message.delta', 'message.delta', 'message.delta', 'message.completed', 'usage.updated', 'turn.completed']);
  t.ok(lines.every((e, i) => e.seq === lines[0].seq + i && e.sessionId === final.sessionId), 'consecutive seqs of one session: every event, no gap');
  t.equal(lines.filter((e) => e.type === 'message.delta').map((e) => e.data.delta.text).join(''), 'Echo: one two three');
  t.equal(lines.at(-1).data.messageId, final.id);
});

t.test('scripted Anthropic: streamed reply; a tool call allowed by --allow, another denied, and the model sees the denial', async (t) => {
  const api = await startAnthropicServer();
  t.teardown(() => api.close());
  const dataDir = tempDir();
  const workspace = realpathSync(tempDir('agentd-run-ws-'));
  const env = { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'sk-test' };

  api.script(reply.text(['Hel', 'lo ', 'from Claude']));
  const plain = await agentd(['run', 'hi', '--provider', 'anthropic', '--data-dir', dataDir], { env, cwd: workspace });
  t.equal(plain.status, 0, plain.stderr);
  t.equal(plain.stdout, 'Hello from Claude\n');

  api.script(
    reply.toolUse([
      { id: 'toolu_a', name: 'write_file', input: { path: 'allowed.txt', content: 'yes' } },
      { id: 'toolu_b', name: 'write_file', input: { path: 'denied.txt', content: 'no' } },
    ], 'Writing two files.'),
    reply.text(['One was denied.']),
  );
  const r = await agentd(['run', 'write two files', '--provider', 'anthropic', '--allow', 'write_file:allowed.*', '--data-dir', dataDir], { env, cwd: workspace });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, 'Writing two files.');
  t.match(r.stdout, 'One was denied.');
  t.match(r.stderr, 'allowed write_file: allowed.txt (--allow write_file:allowed.*)');
  t.match(r.stderr, 'denied write_file: denied.txt (rerun with --allow write_file');
  t.equal(readFileSync(join(workspace, 'allowed.txt'), 'utf8'), 'yes');
  t.notOk(existsSync(join(workspace, 'denied.txt')), 'the denied call did not run');
  const results = (api.requests.at(-1)!.body.messages.at(-1).content as Json[]).filter((p) => p.type === 'tool_result');
  t.equal(results.length, 2, 'the model received both results');
  const a = results.find((p) => p.tool_use_id === 'toolu_a');
  const b = results.find((p) => p.tool_use_id === 'toolu_b');
  t.notOk(a.is_error);
  t.equal(b.is_error, true);
  t.match(JSON.stringify(b.content), /Permission denied.*--allow write_file/, 'the denial, with its reason, reached the model');
  t.equal(api.pending(), 0);
});

t.test('--continue picks the newest session of the workspace; --session continues a given one', async (t) => {
  const dataDir = tempDir();
  const wsA = realpathSync(tempDir('agentd-run-a-'));
  const wsB = realpathSync(tempDir('agentd-run-b-'));
  const sessionOf = (r: Ran) => jsonLines(r.stdout).at(-1).sessionId as string;
  const a1 = await agentd(['run', 'a1', '--json', '--data-dir', dataDir], { cwd: wsA });
  const a2 = await agentd(['run', 'a2', '--json', '--data-dir', dataDir, '--name', 'newer'], { cwd: wsA });
  const b1 = await agentd(['run', 'b1', '--json', '--data-dir', dataDir], { cwd: wsB });
  t.not(sessionOf(a1), sessionOf(a2), 'without --continue: a new session each time');
  const a3 = await agentd(['run', 'a3', '--json', '--continue', '--data-dir', dataDir], { cwd: wsA });
  t.equal(sessionOf(a3), sessionOf(a2), 'the most recently updated session of this workspace');
  const b2 = await agentd(['run', 'b2', '--json', '--continue', '--data-dir', dataDir, '--workspace', wsB], { cwd: wsA });
  t.equal(sessionOf(b2), sessionOf(b1), '--workspace names the workspace');
  const a4 = await agentd(['run', 'a4', '--json', '--session', sessionOf(a1), '--data-dir', dataDir], { cwd: wsB });
  t.equal(sessionOf(a4), sessionOf(a1));
  const show = await agentd(['session', 'show', sessionOf(a1), '--data-dir', dataDir]);
  t.match(show.stdout, 'you: a1\nagentd: Echo: a1\nyou: a4\nagentd: Echo: a4');
  const fresh = realpathSync(tempDir('agentd-run-c-'));
  const c = await agentd(['run', 'c', '--continue', '--data-dir', dataDir], { cwd: fresh });
  t.equal(c.status, 0);
  t.match(c.stderr, `no session in ${fresh} yet: starting one`);
});

t.test('piped chat: three lines, each after the previous turn, exits 0; approvals by --allow only', async (t) => {
  const dataDir = tempDir();
  const workspace = realpathSync(tempDir('agentd-chat-pipe-'));
  const r = await agentd(['chat', '--data-dir', dataDir, '--model', 'echo-slow', '--allow', 'write_file'], {
    input: 'first\n/tool write_file {"path":"x.txt","content":"x"}\nthird\n', cwd: workspace,
  });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /Echo: first\n[\s\S]*Tool result: Wrote 1 bytes to x\.txt\n[\s\S]*Echo: third\n$/, 'every reply, in order');
  t.notMatch(r.stdout, /"level"|> /, 'no log line and no prompts');
  t.match(r.stderr, 'allowed write_file: x.txt (--allow write_file)');
  const denied = await agentd(['chat', '--data-dir', dataDir], { input: '/tool write_file {"path":"y.txt","content":"y"}\n', cwd: workspace });
  t.equal(denied.status, 0);
  t.match(denied.stderr, 'denied write_file: y.txt (rerun with --allow write_file');
  t.notOk(existsSync(join(workspace, 'y.txt')));
  // The old failure: `printf 'hello\n/quit\n' | agentd chat --stdio` exited 1 ("not connected").
  const stdio = await agentd(['chat', '--stdio', '--data-dir', dataDir], { input: 'hello\n/quit\n' });
  t.equal(stdio.status, 0, stdio.stderr);
  t.match(stdio.stdout, 'Echo: hello');
  t.equal(stdio.stderr, '', 'the child server\'s log went to the log file');
  t.match(readFileSync(join(dataDir, 'agentd.log'), 'utf8'), /agentd serving on stdio/);
});

t.test('session list|show|delete with no server running', async (t) => {
  const dataDir = tempDir();
  const made = await agentd(['run', 'remember me', '--json', '--data-dir', dataDir]);
  const id = jsonLines(made.stdout).at(-1).sessionId;
  const list = await agentd(['session', 'list', '--data-dir', dataDir]);
  t.equal(list.status, 0, list.stderr);
  t.match(list.stdout, new RegExp(`^${id}\\t`));
  t.equal(list.stderr, '');
  // Without --data-dir and --url: nothing answers at the default URL, so $AGENTD_HOME in-process.
  const free = await new Promise<boolean>((resolve) => {
    const s = connect(4096, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
  if (free) {
    const home = await agentd(['session', 'show', id, '--json'], { env: { AGENTD_HOME: dataDir } });
    t.equal(home.status, 0, home.stderr);
    t.equal(JSON.parse(home.stdout).session.id, id);
    const chat = await agentd(['chat', '--session', id], { env: { AGENTD_HOME: dataDir }, input: 'again\n' });
    t.equal(chat.status, 0, chat.stderr);
    t.match(chat.stdout, 'Echo: again');
  } else {
    t.comment('port 4096 is in use here: the default-URL fallback is not checked');
  }
  // An empty AGENTD_HOME is unset: the XDG data dir, never the current directory.
  const cwd = tempDir();
  const xdg = tempDir();
  // On SQLite (also in the PostgreSQL pass): where the database file goes is the point.
  const empty = await agentd(['run', 'where'], { env: { AGENTD_HOME: '', AGENTD_URL: '', XDG_DATA_HOME: xdg, AGENTD_DATABASE_URL: 'sqlite' }, cwd });
  t.equal(empty.status, 0, empty.stderr);
  t.notOk(existsSync(join(cwd, 'agentd.db')), 'no database in the current directory');
  t.ok(existsSync(join(xdg, 'agentd', 'agentd.db')), 'the XDG data dir holds it');
  const del = await agentd(['session', 'delete', id, '--data-dir', dataDir]);
  t.equal(del.status, 0, del.stderr);
  t.notMatch((await agentd(['session', 'list', '--data-dir', dataDir])).stdout, id);
  const both = await agentd(['session', 'list', '--data-dir', dataDir, '--url', 'ws://127.0.0.1:1/rpc']);
  t.equal(both.status, 2, '--data-dir with --url is a usage error');
});

t.test('--url against a running server: a WebSocket client watching the session sees the turn live', async (t) => {
  const server = await spawnHttp();
  t.teardown(() => server.stop());
  const watcher = new AgentClient(nodeWebSocketConnector({ url: server.wsUrl }));
  t.teardown(() => watcher.close());
  await watcher.connect();
  const session = await watcher.createSession({ name: 'watched' });
  await watcher.subscribe({ sessionId: session.id, since: session.lastSeq });
  const seen: TypedEvent[] = [];
  watcher.onEvent((e) => seen.push(e));
  for (const url of [server.wsUrl, server.url]) {
    seen.length = 0;
    const r = await agentd(['run', `via ${url}`, '--url', url, '--session', session.id]);
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stdout, `Echo: via ${url}\n`);
    await until(() => seen.some((e) => e.type === 'turn.completed'), 10_000, 'the watcher to see the turn end');
    t.equal(seen.filter((e) => e.type === 'message.delta').map((e) => (e.data as Json).delta.text).join(''), `Echo: via ${url}`, `the watcher saw every delta (${url.split(':')[0]})`);
  }
  const gone = await agentd(['run', 'x', '--url', 'ws://127.0.0.1:1/rpc']);
  t.equal(gone.status, 1, 'no server at --url: 1');
});

t.test('Ctrl-C in a terminal mid-turn exits 130; the store has the turn cancelled', { skip: !hasTmux() && 'tmux is not installed' }, async (t) => {
  const dataDir = tempDir();
  const words = Array.from({ length: 200 }, (_, i) => `w${i + 1}`).join(' ');
  const tm = Tmux.start([process.execPath, AGENTD, 'run', '--model', 'echo-slow', '--data-dir', dataDir, words], { env: baseEnv });
  t.teardown(() => tm.kill());
  await tm.waitFor(/Echo: w1 w2/);
  tm.keys('C-c');
  t.equal(await tm.waitForExit(), 130, 'exit 130');
  t.match(tm.screen(), 'cancelling the turn');
  t.notMatch(tm.screen(), /w200/, 'cancelled before the end');
  const client = new AgentClient(localStdio(dataDir));
  t.teardown(() => client.close());
  await client.connect();
  const [s] = (await client.listSessions()).sessions;
  const events: TypedEvent[] = [];
  client.onEvent((e) => events.push(e));
  await client.subscribe({ sessionId: s.id, since: 0 });
  await until(() => events.some((e) => e.type.startsWith('turn.') && e.type !== 'turn.started'), 5000, 'the turn end in the store');
  const end = events.find((e) => e.type.startsWith('turn.') && e.type !== 'turn.started')!;
  t.equal(end.type, 'turn.cancelled', 'cancelled, not interrupted');
  t.equal(s.status, 'idle');
});
