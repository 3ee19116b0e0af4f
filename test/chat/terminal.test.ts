// `agentd chat` driven as a user would, in a tmux pane (send-keys, capture-pane), and
// `agentd session list|show|delete` as a script would. Real server processes throughout.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { AGENTD, spawnHttp, tempDir } from '../helpers/rpc-client.js';
import { hasTmux, Tmux } from '../helpers/tmux.js';

if (!hasTmux()) {
  t.skip('tmux is not installed (apt-get install -y tmux; .ci/run does it)');
} else {
  const env = { AGENTD_LOG_LEVEL: 'warn', AGENTD_CHECK_RESULTS: '1', AGENTD_DETECT_LOCAL: '0', NO_COLOR: '1', AGENTD_URL: '', AGENTD_API_KEY: '' };
  const agentd = (...args: string[]) => spawnSync(process.execPath, [AGENTD, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i + 1}`).join(' ');

  t.test('/quit while a turn runs cancels it and exits 0', async (t) => {
    const dataDir = tempDir();
    const tm = Tmux.start([process.execPath, AGENTD, 'chat', '--stdio', '--data-dir', dataDir, '--model', 'echo-slow'], { env, cwd: tempDir('agentd-chat-quit-') });
    t.teardown(() => tm.kill());
    const s = await tm.waitFor(/session (ses_\w+) .*echo\/echo-slow[\s\S]*>$/m);
    const id = /session (ses_\w+)/.exec(s)![1];
    tm.type(words(200));
    await tm.waitFor(/Echo: w1 w2/);
    tm.type('/quit');
    t.equal(await tm.waitForExit(), 0, '/quit exits 0 mid-turn');
    const shown = JSON.parse(agentd('session', 'show', id, '--json', '--data-dir', dataDir).stdout);
    t.equal(shown.session.status, 'idle', 'the turn was cancelled, the session idle');
    const answer = shown.messages.filter((m: { role: string }) => m.role === 'assistant').map((m: unknown) => JSON.stringify(m)).join('');
    t.match(answer, 'Echo: w1', 'the reply had begun');
    t.notMatch(answer, 'w200', 'and stopped before its end');
  });

  t.test('chat --stdio: streamed reply, tool calls, commands, Ctrl-C cancels then exits; session list|show|delete', async (t) => {
    const dataDir = tempDir();
    const workspace = tempDir('agentd-chat-stdio-');
    const tm = Tmux.start([process.execPath, AGENTD, 'chat', '--stdio', '--data-dir', dataDir, '--model', 'echo-slow'], { env, cwd: workspace });
    t.teardown(() => tm.kill());
    let s = await tm.waitFor(/session (ses_\w+) .*echo\/echo-slow[\s\S]*>$/m);
    const first = /session (ses_\w+)/.exec(s)![1];

    // The reply streams: some screen shows part of it before all of it is there (40 deltas, 50 ms each).
    tm.type(words(40));
    s = await tm.waitFor(/Echo: w1 w2/);
    const partial = !s.slice(s.lastIndexOf('Echo: ')).includes('w40');
    t.ok(partial, 'a screen with part of the reply');
    s = await tm.waitFor(/Echo: w1 w2 [\w ]+ w40\n>$/);
    t.match(s, `Echo: ${words(40)}`, 'the whole reply, then the prompt');

    // Tool calls show with their input and result (main has no write_file yet: an error result).
    let mark = tm.screen().length;
    tm.type('/tool list_files {"path":"."}');
    s = await tm.waitFor(/⚙ list_files \{"path":"\."\}[\s\S]*(✓|✗) list_files: [\s\S]*Tool (result|error): [\s\S]*>$/, 15_000, mark);
    t.pass('tool call shown with its input and its result');

    // Commands.
    mark = tm.screen().length;
    tm.type('/sessions');
    s = await tm.waitFor(new RegExp(`\\* 1\\. ${first} `), 10_000, mark);
    mark = tm.screen().length;
    tm.type('/new second');
    s = await tm.waitFor(/session (ses_\w+) \(second\) · echo\/echo-slow/, 10_000, mark);
    const second = /session (ses_\w+) \(second\)/.exec(s.slice(mark))![1];
    t.not(second, first, '/new made another session');
    mark = tm.screen().length;
    tm.type('/model');
    s = await tm.waitFor(/\* echo\/echo-slow/, 10_000, mark);
    t.match(s.slice(mark), /echo\/echo \(default\)/, '/model lists the models, the current one starred');
    mark = tm.screen().length;
    tm.type('/model echo/echo');
    s = await tm.waitFor(/session (ses_\w+) .*· echo\/echo\n/, 10_000, mark);
    const third = /session (ses_\w+) /.exec(s.slice(mark))![1];
    mark = tm.screen().length;
    tm.type('/sessions');
    s = await tm.waitFor(/3\. ses_/, 10_000, mark);
    t.match(s.slice(mark), new RegExp(`\\* \\d\\. ${third} `), 'the new session is current');
    mark = tm.screen().length;
    tm.type(`/sessions ${first}`);
    s = await tm.waitFor(new RegExp(`session ${first} `), 10_000, mark);
    t.match(s.slice(mark), `agentd: Echo: ${words(40)}`, 'switching shows the history');

    // Ctrl-C cancels the running turn; the chat goes on.
    await tm.waitFor(/>$/);
    tm.keys('C-l');
    await tm.waitFor(/>$/);
    mark = tm.screen().length;
    tm.type(`/model echo/echo-slow`);
    await tm.waitFor(/session ses_\w+ .*echo-slow\n/, 10_000, mark);
    mark = tm.screen().length;
    tm.type(words(200));
    await tm.waitFor(/Echo: w1 w2/, 15_000, mark);
    tm.keys('C-c');
    s = await tm.waitFor(/\(turn cancelled\)\n>$/, 10_000, mark);
    t.notMatch(s.slice(s.lastIndexOf('Echo: ')), /w200/, 'cancelled before the end');
    mark = tm.screen().length;
    tm.type('still here');
    await tm.waitFor('Echo: still here', 10_000, mark);

    // A second Ctrl-C while a turn runs exits.
    await tm.waitFor(/>$/);
    mark = tm.screen().length;
    tm.type(words(200));
    await tm.waitFor(/Echo: w1 w2/, 15_000, mark);
    tm.keys('C-c');
    await tm.waitFor('cancelling the turn', 10_000, mark);
    tm.keys('C-c');
    t.equal(await tm.waitForExit(), 130, 'second Ctrl-C exits (130)');

    // Scripts: session list|show|delete (the chat's server is gone; --stdio starts another).
    const list = agentd('session', 'list', '--stdio', '--data-dir', dataDir);
    t.equal(list.status, 0, list.stderr);
    const lines = list.stdout.trim().split('\n');
    t.equal(lines.length, 4, 'four sessions, one per line');
    t.ok(lines.every((l) => /^ses_\w+\t[^\t]+\techo\/echo(-slow)?\t(idle|running)\t\S+$/.test(l)), 'id, name, provider/model, status, updatedAt');
    const listJson = JSON.parse(agentd('session', 'list', '--stdio', '--data-dir', dataDir, '--json').stdout);
    t.same(listJson.sessions.map((x: { id: string }) => x.id).sort(), lines.map((l) => l.split('\t')[0]).sort());
    const show = agentd('session', 'show', first, '--stdio', '--data-dir', dataDir);
    t.equal(show.status, 0, show.stderr);
    t.match(show.stdout, new RegExp(`^session ${first}`));
    t.match(show.stdout, `you: ${words(40)}\nagentd: Echo: ${words(40)}`);
    t.match(show.stdout, 'tool list_files {"path":"."}');
    const showJson = JSON.parse(agentd('session', 'show', first, '--stdio', '--data-dir', dataDir, '--json').stdout);
    t.equal(showJson.session.id, first);
    t.ok(showJson.messages.length >= 4);
    const del = agentd('session', 'delete', second, '--stdio', '--data-dir', dataDir);
    t.equal(del.status, 0, del.stderr);
    t.match(del.stderr, `deleted ${second}`);
    t.notMatch(agentd('session', 'list', '--stdio', '--data-dir', dataDir).stdout, second);
    const missing = agentd('session', 'show', second, '--stdio', '--data-dir', dataDir);
    t.equal(missing.status, 1, 'a missing session exits 1');
    t.match(missing.stderr, /not found/);
    t.equal(missing.stderr.trim().split('\n').length, 1, 'with one line on stderr');
    const usage = agentd('session', 'list', '--stdio', '--url', 'ws://127.0.0.1:1/rpc');
    t.equal(usage.status, 2, '--url with --stdio is a usage error (2)');
  });

  t.test('chat --url over WebSocket with an API key', async (t) => {
    const dataDir = tempDir();
    const workspace = tempDir('agentd-chat-ws-');
    const created = agentd('key', 'create', '--name', 'chat', '--data-dir', dataDir);
    t.equal(created.status, 0, created.stderr);
    const key = created.stdout.trim();
    const server = await spawnHttp({ dataDir, cwd: workspace });
    t.teardown(() => server.stop());

    const bad = Tmux.start([process.execPath, AGENTD, 'chat', '--url', server.wsUrl, '--api-key', 'agentd_wrong'], { env });
    t.teardown(() => bad.kill());
    t.equal(await bad.waitForExit(), 1, 'a wrong key exits 1');
    t.match(bad.screen(), /agentd chat: .*401/);

    const tm = Tmux.start([process.execPath, AGENTD, 'chat', '--url', server.wsUrl], { env: { ...env, AGENTD_API_KEY: key } });
    t.teardown(() => tm.kill());
    await tm.waitFor(/session ses_\w+ .*echo\/echo\n[\s\S]*>$/);
    tm.type('hello over websocket');
    await tm.waitFor('Echo: hello over websocket');

    // The real server asks before write_file (default policy); the chat asks at the prompt.
    let mark = tm.screen().length;
    tm.type('/tool write_file {"path":"x.txt","content":"hi"}');
    await tm.waitFor('[o]nce / [a]lways / [d]eny?', 15_000, mark);
    tm.type('o');
    await tm.waitFor(/Tool result: /, 15_000, mark);
    t.equal(readFileSync(join(workspace, 'x.txt'), 'utf8'), 'hi', 'allowed once: the file was written');
    mark = tm.screen().length;
    tm.type('/quit');
    t.equal(await tm.waitForExit(), 0, '/quit exits 0');
  });

  t.test('approvals at the prompt against the real server over WebSocket: once, deny, Ctrl-C', async (t) => {
    const workspace = tempDir('agentd-chat-approval-');
    const http = await spawnHttp({ dataDir: tempDir(), cwd: workspace });
    t.teardown(() => http.stop());
    const server = { wsUrl: http.wsUrl, workspace };
    const tm = Tmux.start([process.execPath, AGENTD, 'chat', '--url', server.wsUrl], { env });
    t.teardown(() => tm.kill());
    await tm.waitFor(/session ses_\w+[\s\S]*>$/);

    let mark = tm.screen().length;
    tm.type('/tool write_file {"path":"x.txt","content":"hi"}');
    await tm.waitFor(/\? allow write_file: x\.txt\n {2}input \{"path":"x\.txt","content":"hi"\}\n {2}\[o\]nce \/ \[a\]lways \/ \[d\]eny\?$/, 15_000, mark);
    tm.type('maybe');
    await tm.waitFor('answer o (allow once), a (allow always) or d (deny)', 10_000, mark);
    tm.type('o');
    await tm.waitFor(/✓ write_file: Wrote 2 bytes to x\.txt\n[\s\S]*Tool result: Wrote 2 bytes to x\.txt\n>$/, 15_000, mark);
    t.equal(readFileSync(join(server.workspace, 'x.txt'), 'utf8'), 'hi', 'allow once: written');

    mark = tm.screen().length;
    tm.type('/tool write_file {"path":"y.txt","content":"no"}');
    await tm.waitFor('[o]nce / [a]lways / [d]eny?', 15_000, mark);
    tm.type('d');
    await tm.waitFor(/Tool error: Permission denied: the user denied write_file: denied at the terminal\n>$/, 15_000, mark);
    t.notOk(existsSync(join(server.workspace, 'y.txt')), 'deny: not written');

    mark = tm.screen().length;
    tm.type('/tool write_file {"path":"z.txt","content":"zz"}');
    await tm.waitFor('[o]nce / [a]lways / [d]eny?', 15_000, mark);
    tm.keys('C-c');
    await tm.waitFor(/cancelling the turn[\s\S]*\(turn cancelled\)\n>$/, 15_000, mark);
    t.notOk(existsSync(join(server.workspace, 'z.txt')), 'Ctrl-C at an approval: denied and the turn cancelled');

    tm.keys('C-d');
    t.equal(await tm.waitForExit(), 0, 'Ctrl-D exits 0');
  });
}
