// Confinement of the file tools against an attacker: glob patterns that spell `..` in other
// ways, symlinked directories, a second process swapping a checked file (or directory) for a
// symlink to the outside while the tools run (bounded attempts), and hard links to outside files.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import t from 'tap';
import { DEFAULT_LIMITS } from '../../server/config/defaults.js';
import type { SessionRecord } from '../../server/store/store.js';
import { BuiltinToolHost } from '../../server/tools/builtin.js';
import { CompositeToolHost } from '../../server/tools/host.js';
import { tempDir } from '../helpers/rpc-client.js';

const ws = realpathSync(tempDir('agentd-ws-'));
const outside = realpathSync(tempDir('agentd-outside-'));
writeFileSync(join(outside, 'secret.txt'), 'TOP SECRET\n');
writeFileSync(join(ws, 'ok.txt'), 'inside\n');
symlinkSync(outside, join(ws, 'out-dir'));

const session = { id: 'ses_conf', workspaceRoot: ws } as SessionRecord;
const host = new CompositeToolHost([new BuiltinToolHost(() => DEFAULT_LIMITS)]);
async function run(name: string, input: Record<string, unknown>) {
  const r = await host.execute({ id: 'toolu_1', name, input }, { session, turnId: 'turn_1', signal: new AbortController().signal, output: () => {} });
  return { isError: r.isError === true, text: r.content.map((c) => (c.type === 'text' ? c.text : '')).join('') };
}

t.test('list_files: .. however spelled, absolute patterns and symlinked directories never list the outside', async (t) => {
  const up = '../'.repeat(12);
  const escUp = '\\.\\./'.repeat(12);
  const patterns = [
    `${escUp}etc/*`, `${escUp}${basename(outside)}/*`, `\\.\\./${basename(outside)}/*`, `${up}etc/*`,
    `{..,x}/${basename(outside)}/*`, `{x,..}/*`, `**/../*`, `**/../../etc/*`, `@(..)/*`, `+(..)/*`, `[.][.]/*`,
    '/etc/*', `${outside}/*`, `..\\*`, './../*', 'src/../../*', '~/*',
    'out-dir/*', 'out-dir/**', 'out-dir/**/*', 'out-di[r]/*', '{out-dir,x}/*',
  ];
  for (const pattern of patterns) {
    const r = await run('list_files', { pattern });
    t.notMatch(r.text, /secret\.txt|passwd|hostname/, `${pattern}: nothing outside is listed`);
  }
  t.match((await run('list_files', { pattern: `${escUp}etc/*` })).text, /must not contain a backslash/, 'the escaped form is refused, saying why');
  t.match((await run('list_files', { pattern: '{..,x}/*' })).text, /\.\. segment/);
  t.match((await run('list_files', { pattern: 'out-dir/*' })).text, /outside the workspace left out/, 'results through a symlinked directory are dropped, saying so');
  t.equal((await run('list_files', { pattern: '*.txt' })).text, 'ok.txt', 'ordinary patterns still work');
});

t.test('grep: escaped globs and symlinked directories never reach the outside', async (t) => {
  for (const glob of ['\\.\\./**', '{..,x}/**', '**/../**', 'out-dir/*', '/**']) {
    const r = await run('grep', { pattern: 'SECRET', glob });
    t.notMatch(r.text, /TOP SECRET/, `glob ${glob}`);
  }
  t.notMatch((await run('grep', { pattern: 'SECRET' })).text, /TOP SECRET/);
  t.match((await run('grep', { pattern: 'inside' })).text, /^ok.txt:1:inside/);
});

t.test('hard links to an outside file are refused for reading and writing', async (t) => {
  writeFileSync(join(outside, 'hard.txt'), 'HARD SECRET\n');
  linkSync(join(outside, 'hard.txt'), join(ws, 'hl.txt'));
  const r = await run('read_file', { path: 'hl.txt' });
  t.equal(r.isError, true);
  t.match(r.text, /hl.txt has 2 hard links/);
  const w = await run('write_file', { path: 'hl.txt', content: 'OVERWRITTEN\n' });
  t.equal(w.isError, true);
  t.match(w.text, /hard links/);
  const e = await run('edit_file', { path: 'hl.txt', old_string: 'HARD', new_string: 'SOFT' });
  t.equal(e.isError, true);
  t.notMatch((await run('grep', { pattern: 'HARD' })).text, /HARD SECRET/, 'grep skips it');
  t.equal(readFileSync(join(outside, 'hard.txt'), 'utf8'), 'HARD SECRET\n', 'the outside file is untouched');
});

/**
 * A second process that swaps `victim` (in the workspace) between a real file (or directory)
 * and a symlink to `target` (outside), as fast as it can, until killed.
 */
function swapper(victim: string, target: string, kind: 'file' | 'dir'): Promise<ChildProcess> {
  const script = `
    const fs = require('fs');
    const [victim, target, kind] = process.argv.slice(1);
    const link = victim + '.l', real = victim + '.r';
    process.stdout.write('ready\\n');
    for (;;) {
      try { fs.rmSync(link, { force: true }); fs.symlinkSync(target, link); fs.rmSync(victim, { recursive: true, force: true }); fs.renameSync(link, victim); } catch {}
      try {
        if (kind === 'file') fs.writeFileSync(real, 'inside\\n');
        else { fs.rmSync(real, { recursive: true, force: true }); fs.mkdirSync(real); fs.writeFileSync(real + '/f.txt', 'inside\\n'); }
        fs.rmSync(victim, { recursive: true, force: true }); fs.renameSync(real, victim);
      } catch {}
    }`;
  const child = spawn(process.execPath, ['-e', script, victim, target, kind], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => child.stdout!.once('data', () => resolve(child)));
}

/** Runs `attempt` while the swapper races it: at most `max` attempts or `ms` milliseconds. */
async function race(t: Tap.Test, victim: string, target: string, kind: 'file' | 'dir', attempt: () => Promise<void>, max = 300, ms = 2500) {
  const child = await swapper(victim, target, kind);
  const end = Date.now() + ms;
  let n = 0;
  try {
    while (n < max && Date.now() < end) {
      n++;
      await attempt();
    }
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
  t.ok(n >= 20, `${n} attempts raced the swapper`);
}

type Tap = typeof t;
declare namespace Tap { type Test = Parameters<Parameters<typeof t.test>[1]>[0]; }

t.test('race: read_file never reads through a swapped-in symlink', async (t) => {
  let leaked = 0;
  let read = 0;
  await race(t, join(ws, 'r.txt'), join(outside, 'secret.txt'), 'file', async () => {
    const r = await run('read_file', { path: 'r.txt' });
    if (r.text.includes('TOP SECRET')) leaked++;
    if (r.text === 'inside\n') read++;
  });
  t.equal(leaked, 0, 'no read landed outside');
  t.ok(read > 0, `the file was read when it was a file (${read} times)`);
});

t.test('race: grep never reads through a swapped-in symlink', async (t) => {
  let leaked = 0;
  await race(t, join(ws, 'g.txt'), join(outside, 'secret.txt'), 'file', async () => {
    if ((await run('grep', { pattern: 'SECRET', path: 'g.txt' })).text.includes('TOP SECRET')) leaked++;
  }, 100);
  t.equal(leaked, 0, 'no read landed outside');
});

t.test('race: write_file and edit_file never write through a swapped-in symlink', async (t) => {
  writeFileSync(join(outside, 'target.txt'), 'inside\n');
  let wrote = 0;
  await race(t, join(ws, 'w.txt'), join(outside, 'target.txt'), 'file', async () => {
    if (!(await run('write_file', { path: 'w.txt', content: 'PWNED\n' })).isError) wrote++;
    await run('edit_file', { path: 'w.txt', old_string: 'inside', new_string: 'EDITED' });
  });
  t.equal(readFileSync(join(outside, 'target.txt'), 'utf8'), 'inside\n', 'the outside file was never written');
  t.ok(wrote > 0, `writes still succeeded in between (${wrote})`);
});

t.test('race: a directory swapped for a symlink to the outside', async (t) => {
  const outDir = join(outside, 'd');
  mkdirSync(outDir);
  writeFileSync(join(outDir, 'f.txt'), 'OUTSIDE D\n');
  let leaked = 0;
  await race(t, join(ws, 'd'), outDir, 'dir', async () => {
    await run('write_file', { path: 'd/new.txt', content: 'PWNED\n' });
    await run('write_file', { path: 'd/f.txt', content: 'PWNED\n' });
    await run('edit_file', { path: 'd/f.txt', old_string: 'OUTSIDE', new_string: 'EDITED' });
    if ((await run('read_file', { path: 'd/f.txt' })).text.includes('OUTSIDE D')) leaked++;
  }, 150);
  t.same(readdirSync(outDir), ['f.txt'], 'nothing was created in the outside directory');
  t.equal(readFileSync(join(outDir, 'f.txt'), 'utf8'), 'OUTSIDE D\n', 'the outside file was never written');
  t.notOk(existsSync(join(outside, 'new.txt')));
  t.equal(leaked, 0, 'no read landed outside');
});
