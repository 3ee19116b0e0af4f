// The built-in tools in-process, against real files in a temp workspace: behaviour, errors,
// bounds, and confinement (../, absolute paths, symlinks out of the root).
import { existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DEFAULT_LIMITS } from '../../server/config/defaults.js';
import type { SessionRecord } from '../../server/store/store.js';
import { BuiltinToolHost } from '../../server/tools/builtin.js';
import { OUTPUT_CAP } from '../../server/tools/command.js';
import { commandEnv } from '../../server/tools/sandbox.js';
import { CompositeToolHost } from '../../server/tools/host.js';
import { tempDir } from '../helpers/rpc-client.js';

const ws = realpathSync(tempDir('agentd-ws-'));
const outside = realpathSync(tempDir('agentd-outside-'));
writeFileSync(join(outside, 'secret.txt'), 'TOP SECRET\n');
writeFileSync(join(ws, 'lines.txt'), 'one\ntwo\nthree\nfour\nfive\n');
mkdirSync(join(ws, 'src/deep'), { recursive: true });
writeFileSync(join(ws, 'src/a.ts'), 'export const a = 1;\n// TODO: fix\n');
writeFileSync(join(ws, 'src/deep/b.ts'), 'export const b = 2; // todo later\n');
writeFileSync(join(ws, 'src/c.md'), 'TODO in markdown\n');
writeFileSync(join(ws, 'bin.dat'), Buffer.from([1, 0, 2]));
symlinkSync(outside, join(ws, 'out-dir'));
symlinkSync(join(outside, 'secret.txt'), join(ws, 'out-file'));
symlinkSync(join(outside, 'missing.txt'), join(ws, 'dangling'));
symlinkSync(join(ws, 'lines.txt'), join(ws, 'in-link'));

const session = { id: 'ses_test', workspaceRoot: ws } as SessionRecord;
let limits = { ...DEFAULT_LIMITS };
const host = new CompositeToolHost([new BuiltinToolHost(() => limits)]);

async function run(name: string, input: Record<string, unknown>, signal = new AbortController().signal) {
  const output: Array<[string, string]> = [];
  const r = await host.execute({ id: 'toolu_1', name, input }, { session, turnId: 'turn_1', signal, output: (s, text) => output.push([s, text]) });
  return { ...r, text: r.content.map((c) => (c.type === 'text' ? c.text : '')).join(''), output };
}

t.test('tool list', async (t) => {
  const tools = host.list(session);
  t.same(tools.map((x) => x.name).sort(), ['edit_file', 'grep', 'list_files', 'read_file', 'run_command', 'write_file']);
  for (const tool of tools) {
    t.same(tool.source, { type: 'builtin' });
    t.equal(tool.inputSchema.type, 'object');
    t.type(tool.description, 'string');
  }
  t.same(tools.filter((x) => x.readOnly).map((x) => x.name).sort(), ['grep', 'list_files', 'read_file']);
});

t.test('read_file', async (t) => {
  t.equal((await run('read_file', { path: 'lines.txt' })).text, 'one\ntwo\nthree\nfour\nfive\n');
  t.equal((await run('read_file', { path: 'lines.txt', start_line: 2, end_line: 3 })).text, 'two\nthree');
  t.equal((await run('read_file', { path: 'lines.txt', start_line: 4 })).text, 'four\nfive\n');
  t.equal((await run('read_file', { path: 'in-link' })).text.slice(0, 3), 'one', 'a symlink inside the root is fine');
  const past = await run('read_file', { path: 'lines.txt', start_line: 99 });
  t.equal(past.isError, true);
  t.match(past.text, /past the end/);
  t.match((await run('read_file', { path: 'lines.txt', start_line: 3, end_line: 2 })).text, /before start_line/);
  t.match((await run('read_file', { path: 'nope.txt' })).text, /File not found: nope.txt/);
  t.match((await run('read_file', { path: 'bin.dat' })).text, /binary/);
  t.match((await run('read_file', { path: 'src' })).text, /is a directory/);
  const bad = await run('read_file', { path: 'lines.txt', start_line: 0 });
  t.equal(bad.isError, true);
  t.match(bad.text, /Invalid input for read_file/);
  t.match((await run('read_file', {})).text, /Invalid input/);
});

t.test('write_file and edit_file', async (t) => {
  const w = await run('write_file', { path: 'new/dir/f.txt', content: 'alpha beta alpha\n' });
  t.notOk(w.isError);
  t.equal(readFileSync(join(ws, 'new/dir/f.txt'), 'utf8'), 'alpha beta alpha\n');

  const none = await run('edit_file', { path: 'new/dir/f.txt', old_string: 'gamma', new_string: 'x' });
  t.equal(none.isError, true);
  t.match(none.text, /not found.*nothing changed/);
  const many = await run('edit_file', { path: 'new/dir/f.txt', old_string: 'alpha', new_string: 'x' });
  t.equal(many.isError, true);
  t.match(many.text, /occurs 2 times/);
  t.equal(readFileSync(join(ws, 'new/dir/f.txt'), 'utf8'), 'alpha beta alpha\n', 'unchanged after a refused edit');
  const one = await run('edit_file', { path: 'new/dir/f.txt', old_string: 'beta', new_string: '$& $1 literal' });
  t.notOk(one.isError);
  t.equal(readFileSync(join(ws, 'new/dir/f.txt'), 'utf8'), 'alpha $& $1 literal alpha\n', 'replacement is literal');
  const all = await run('edit_file', { path: 'new/dir/f.txt', old_string: 'alpha', new_string: 'omega', replace_all: true });
  t.match(all.text, /Replaced 2 occurrences/);
  t.equal(readFileSync(join(ws, 'new/dir/f.txt'), 'utf8'), 'omega $& $1 literal omega\n');
});

t.test('list_files and grep', async (t) => {
  const all = await run('list_files', {});
  t.match(all.text, /^bin.dat\nlines.txt\nnew\/dir\/f.txt\nsrc\/a.ts\nsrc\/c.md\nsrc\/deep\/b.ts/);
  t.notMatch(all.text, /secret/, 'does not follow the symlinked directory out of the root');
  t.equal((await run('list_files', { pattern: '**/*.ts' })).text, 'src/a.ts\nsrc/deep/b.ts');
  t.equal((await run('list_files', { pattern: '*.ts', path: 'src' })).text, 'a.ts');
  t.equal((await run('list_files', { pattern: '*.none' })).text, 'No files match.');
  t.equal((await run('list_files', { pattern: '../*' })).isError, true);

  t.equal((await run('grep', { pattern: 'TODO' })).text, 'src/a.ts:2:// TODO: fix\nsrc/c.md:1:TODO in markdown');
  t.equal((await run('grep', { pattern: 'todo', ignore_case: true, glob: '**/*.ts' })).text, 'src/a.ts:2:// TODO: fix\nsrc/deep/b.ts:1:export const b = 2; // todo later');
  t.equal((await run('grep', { pattern: 'o', path: 'lines.txt', max_results: 2 })).text, 'lines.txt:1:one\nlines.txt:2:two\n[stopped after 2 matches]');
  t.match((await run('grep', { pattern: '(' })).text, /Invalid regular expression/);
  t.notMatch((await run('grep', { pattern: 'SECRET' })).text, /SECRET/, 'grep does not read through symlinks out of the root');
});

t.test('paths outside the workspace are refused, never accessed', async (t) => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['read_file', { path: '../x.txt' }],
    ['read_file', { path: 'src/../../x.txt' }],
    ['read_file', { path: join(outside, 'secret.txt') }],
    ['read_file', { path: '/etc/passwd' }],
    ['read_file', { path: 'out-file' }],
    ['read_file', { path: 'out-dir/secret.txt' }],
    ['write_file', { path: '../escape.txt', content: 'x' }],
    ['write_file', { path: join(outside, 'abs.txt'), content: 'x' }],
    ['write_file', { path: 'out-dir/new.txt', content: 'x' }],
    ['write_file', { path: 'out-file', content: 'overwritten' }],
    ['write_file', { path: 'dangling', content: 'x' }],
    ['edit_file', { path: 'out-file', old_string: 'TOP', new_string: 'BOTTOM' }],
    ['list_files', { path: 'out-dir' }],
    ['list_files', { path: '..' }],
    ['grep', { pattern: 'SECRET', path: 'out-dir' }],
    ['grep', { pattern: 'x', path: '/etc' }],
  ];
  for (const [name, input] of cases) {
    const r = await run(name, input);
    t.equal(r.isError, true, `${name} ${JSON.stringify(input)} is an error`);
    t.match(r.text, /outside the workspace|symlink to a missing target/, `${name} ${JSON.stringify(input)} says why`);
  }
  t.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), 'TOP SECRET\n', 'the outside file is untouched');
  t.notOk(existsSync(join(outside, 'new.txt')));
  t.notOk(existsSync(join(outside, 'abs.txt')));
  t.notOk(existsSync(join(outside, 'missing.txt')));
  t.notOk(existsSync(join(ws, '..', 'escape.txt')));
  t.equal((await run('read_file', { path: join(ws, 'lines.txt'), end_line: 1 })).text, 'one', 'an absolute path inside the root is fine');
});

t.test('run_command', async (t) => {
  const ok = await run('run_command', { command: 'pwd; echo err >&2' });
  t.notOk(ok.isError);
  t.match(ok.text, ws);
  t.same(ok.output.map(([s]) => s).sort(), ['stderr', 'stdout']);
  const fail = await run('run_command', { command: 'echo bad; exit 3' });
  t.equal(fail.isError, true);
  t.match(fail.text, /Exit code 3\nbad/);
  const big = await run('run_command', { command: `head -c ${OUTPUT_CAP * 3} /dev/zero | tr '\\0' x` });
  t.ok(big.text.length < OUTPUT_CAP + 200, 'output is capped');
  t.match(big.text, /output truncated: \d+ more characters/);
  t.ok(big.output.reduce((n, [, s]) => n + s.length, 0) <= OUTPUT_CAP, 'streamed output is capped too');

  limits = { ...DEFAULT_LIMITS, commandTimeoutMs: 300 };
  const slow = await run('run_command', { command: 'echo begin; sleep 20' });
  limits = { ...DEFAULT_LIMITS };
  t.equal(slow.isError, true);
  t.match(slow.text, /timed out after 300 ms\nbegin/);
  const own = await run('run_command', { command: 'sleep 20', timeout_ms: 200 });
  t.match(own.text, /timed out after 200 ms/);

  const ac = new AbortController();
  const p = run('run_command', { command: 'echo go; sleep 20' }, ac.signal);
  setTimeout(() => ac.abort(), 200);
  const cancelled = await p;
  t.equal(cancelled.isError, true);
  t.match(cancelled.text, /Command cancelled\ngo/);

  const env = commandEnv({ PATH: '/bin', ANTHROPIC_API_KEY: 'k', SECRET_KEY: 's', PGPASSWORD: 'p', DATABASE_URL: 'd', MYSQL_PWD: 'm', LANG: 'C.UTF-8', LC_ALL: 'C', HOME: '/h', KEEP_ME: 'x' }, ['KEEP_ME'], '/private-home');
  t.same(env, { PATH: '/bin', LANG: 'C.UTF-8', LC_ALL: 'C', HOME: '/private-home', KEEP_ME: 'x' }, 'only allowlisted names (and passEnv), HOME replaced');
  const unknown = await host.execute({ id: 'x', name: 'nope', input: {} }, { session, turnId: 't', signal: new AbortController().signal, output: () => {} });
  t.match(unknown, { isError: true, content: [{ text: 'Unknown tool: nope' }] });
});
