// `agentd tui` driven as a user would, in an 80×24 tmux pane (send-keys, capture-pane), against a
// real `agentd serve` whose Anthropic provider talks to the scripted Anthropic server. Each
// checked screen is written to .tap/screens/tui/<name>.txt (named below).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { reply, startAnthropicServer } from '../helpers/anthropic-server.js';
import { AGENTD, ROOT, spawnHttp, tempDir, type HttpServer } from '../helpers/rpc-client.js';
import { hasTmux, Tmux } from '../helpers/tmux.js';

const SCREENS = join(ROOT, '.tap', 'screens', 'tui');
const keep = (name: string, screen: string) => {
  mkdirSync(SCREENS, { recursive: true });
  writeFileSync(join(SCREENS, `${name}.txt`), `${screen}\n`);
};

const freePort = () => new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address() as { port: number };
    s.close(() => resolve(port));
  });
});

// Ink draws only the last frame when it thinks it runs in CI (CI=true): the pane is a real terminal.
const env = { AGENTD_LOG_LEVEL: 'warn', AGENTD_DETECT_LOCAL: '0', AGENTD_URL: '', AGENTD_API_KEY: '', CI: 'false', NO_COLOR: '' };

if (!hasTmux()) {
  t.skip('tmux is not installed (apt-get install -y tmux; .ci/run does it)');
} else {
  t.test('not a terminal: a clear error, exit 2', async (t) => {
    const r = spawnSync(process.execPath, [AGENTD, 'tui', '--data-dir', tempDir()], { encoding: 'utf8', input: '', env: { ...process.env, ...env }, timeout: 30_000 });
    t.equal(r.status, 2, r.stderr);
    t.match(r.stderr, /agentd tui needs a terminal/);
    t.equal(r.stdout, '', 'nothing on stdout');
  });

  t.test('the TUI against a real server: Markdown, tools, approvals, picker, Ctrl-C, restart', async (t) => {
    const api = await startAnthropicServer();
    t.teardown(() => api.close());
    const dataDir = tempDir();
    const workspace = tempDir('agentd-tui-');
    writeFileSync(join(workspace, 'notes.txt'), 'line one\nline two\n');
    const port = await freePort();
    const serverEnv = { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'sk-test' };
    const startServer = () => spawnHttp({ dataDir, cwd: workspace, env: serverEnv, args: ['--port', String(port)] });
    let server: HttpServer = await startServer();
    t.teardown(() => server.stop());

    const tm = Tmux.start([process.execPath, AGENTD, 'tui', '--url', server.wsUrl, '--provider', 'anthropic'], { env, cwd: workspace, width: 80, height: 24 });

    // Typing is for the idle prompt: keys sent while a turn ends (its end snapshot, say) or an approval closes would be lost.

    const idle = () => tm.waitFor('message the agent · ? for keys');
    // Ink attaches a prompt's key listener in an effect after the prompt is drawn, and keys that
    // arrive before it are gone: type as a person does, a moment after the prompt shows.
    const settle = () => new Promise((r) => setTimeout(r, 250));
    const type = async (text: string) => { await settle(); tm.type(text); };
    const keys = async (...k: string[]) => { await settle(); tm.keys(...k); };
    t.teardown(() => tm.kill());

    // The first screen: the session, the input box, the status line.
    let s = await tm.waitFor(/anthropic\/\S+ · connected \(websocket\)/);
    t.match(s, /session \(ses_\w+\) · anthropic\//, 'the session banner');
    t.match(s, 'message the agent · ? for keys', 'the input box');
    keep('first-screen', s);

    // `?` shows the key map; Esc closes it.
    await keys('?');
    s = await tm.waitFor('Ctrl-C                 cancel the running turn');
    keep('keys', s);
    await keys('Escape');
    await tm.waitFor(/\? keys$/);

    // A streamed Markdown reply: no raw ** or backticks, the code block set apart.
    api.script(reply.text(['Here is **bold** text ', 'and `inline` code.\n\n', '```js\nconst x = 1;\n```\n\n', 'All done.'], { delay: 30 }));
    await type('show me markdown');
    s = await tm.waitFor('All done.');
    const md = s.slice(s.indexOf('› show me markdown'));
    t.match(md, 'Here is bold text and inline code.', 'bold and inline code rendered');
    t.notMatch(md.slice(0, md.indexOf('All done.')), /\*\*|`/, 'no raw ** or backticks');
    t.match(md, /╭─ js\n│ const x = 1;\n╰─/, 'the code block is set apart, its language named');
    keep('markdown', s);

    // A tool call with its output.
    api.script(reply.toolUse([{ id: 'toolu_read', name: 'read_file', input: { path: 'notes.txt' } }]), reply.text(['I read it.']));
    await idle();
    await type('read the notes');
    s = await tm.waitFor('I read it.');
    t.match(s, /│ ✓ read_file notes\.txt\n│ [^\n]*line one/, 'the tool block: status, call, output');
    keep('tool-call', s);

    // An edit approval answered with y: the diff is shown, the file changes on disk.
    api.script(reply.toolUse([{ id: 'toolu_edit', name: 'edit_file', input: { path: 'notes.txt', old_string: 'line one', new_string: 'line uno' } }]), reply.text(['Edited.']));
    await idle();
    await type('edit the notes');
    s = await tm.waitFor('y allow once   a always   n deny');
    t.match(s, /Allow edit_file: notes\.txt\?[^\n]*\n[^\n]*- line one[^\n]*\n[^\n]*\+ line uno/, 'the approval shows the diff');
    keep('approval', s);
    await keys('y');
    await tm.waitFor('Edited.');
    t.equal(readFileSync(join(workspace, 'notes.txt'), 'utf8'), 'line uno\nline two\n', 'y: the edit is on disk');

    // Another answered with n and a reason: nothing written, the model hears the reason.
    api.script(reply.toolUse([{ id: 'toolu_write', name: 'write_file', input: { path: 'no.txt', content: 'nope' } }]), reply.text(['Understood.']));
    await idle();
    await type('write a file');
    await tm.waitFor('Allow write_file: no.txt?');
    await keys('n');
    s = await tm.waitFor('Reason (Enter sends, empty for none):');
    // The reason is typed, seen in its prompt, and only then sent with Enter.
    await settle();
    tm.keys('-l', 'not today');
    await tm.waitFor(/Reason \(Enter sends, empty for none\):[^\n]*not today/, 15_000, s.lastIndexOf('Reason (Enter'));
    tm.keys('Enter');
    s = await tm.waitFor('Understood.');
    t.notOk(existsSync(join(workspace, 'no.txt')), 'n: not written');
    t.match(JSON.stringify(api.requests[api.requests.length - 1].body.messages), 'not today', 'the reason reached the model');
    t.match(s, /│ ✗ write_file no\.txt/, 'the denied call is marked');
    keep('denied', s);

    // The session picker with search.
    await idle();
    await type('/rename alpha-one');
    await tm.waitFor(/alpha-one · anthropic\//);
    await type('/new zeta-two');
    await tm.waitFor(/zeta-two \(ses_\w+\) · anthropic\//);
    await keys('C-p');
    s = await tm.waitFor('Sessions  search:');
    t.match(s, 'alpha-one', 'both sessions listed');
    t.match(s, 'zeta-two');
    await keys('-l', 'alpha');
    s = await tm.waitFor(/search: alpha[\s\S]*alpha-one/);
    const picker = s.slice(s.lastIndexOf('Sessions  search:'), s.lastIndexOf('↑↓ select'));
    t.notMatch(picker, 'zeta-two', 'the search filters');
    keep('picker', s);
    await keys('Enter');
    s = await tm.waitFor(/alpha-one \(ses_\w+\) · anthropic[\s\S]*Understood\./);
    t.match(s, 'I read it.', 'the history of the session opened');

    // Ctrl-C during a turn: cancelled, the session idle.
    api.script(reply.hangAfter(['a reply that never ends']));
    await idle();
    await type('hang please');
    await tm.waitFor('a reply that never ends');
    await keys('C-c');
    s = await tm.waitFor('· turn cancelled');
    keep('cancelled', s);
    const list = spawnSync(process.execPath, [AGENTD, 'session', 'list', '--url', server.wsUrl, '--json'], { encoding: 'utf8', env: { ...process.env, ...env } });
    const alpha = JSON.parse(list.stdout).sessions.find((x: { name: string }) => x.name === 'alpha-one');
    t.equal(alpha.status, 'idle', 'the session is idle after Ctrl-C');

    // A server restart mid-turn: the TUI reconnects and resumes without repeating text.
    api.script(reply.text(['before ', 'the ', 'restart ', ...Array.from({ length: 60 }, (_, i) => `x${i} `)], { delay: 200 }));
    await idle();
    await type('long reply');
    await tm.waitFor('before the restart x0 x1');
    await server.stop();
    s = await tm.waitFor(/reconnecting|connection lost/);
    server = await startServer();
    s = await tm.waitFor('· reconnected', 30_000);
    await tm.waitFor(/connected \(websocket\)/);
    s = tm.screen();
    t.equal(s.split('before the restart').length - 1, 1, 'the streamed text is shown once');
    t.match(s, /turn interrupted/, 'the interrupted turn is said');
    keep('reconnected', s);
    api.script(reply.text(['After the restart.']));
    await idle();
    await type('still there?');
    s = await tm.waitFor('After the restart.', 15_000);

    // Twice Ctrl-C when idle quits.
    await keys('C-c');
    await tm.waitFor('Ctrl-C again quits');
    await keys('C-c');
    t.equal(await tm.waitForExit(), 130, 'the second Ctrl-C quits (130)');
  });
}
