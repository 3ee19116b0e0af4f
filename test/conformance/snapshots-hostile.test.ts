// Snapshots against a hostile workspace and without git (issue 18). Over every transport: with
// no `git` on PATH, initialize says snapshots are off and session/diff, session/revert and
// session/unrevert answer SnapshotsUnavailable, while turns and compaction go on. Over stdio: a
// workspace holding the data directory, a file name with a newline, a file above
// snapshots.maxFileBytes, more files than snapshots.maxFiles, and symlinks out of the workspace
// (to a file and to a directory the turn writes into): the snapshots skip and report what they
// must, never record the data directory, and a revert never reaches outside the workspace.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { conformance, type Scenario } from '../helpers/conformance.js';
import type { Driver } from '../helpers/driver.js';
import { tempDir, type Json } from '../helpers/rpc-client.js';

const ALLOW = { default: 'allow' as const };
const tool = (name: string, input: Json) => `/tool ${name} ${JSON.stringify(input)}`;

async function waitNth(d: Driver, sessionId: string, type: string, n: number): Promise<Json> {
  await d.waitForEvent(sessionId, type, () => d.events(sessionId).filter((e) => e.type === type).length >= n, 15_000);
  return d.events(sessionId).filter((e) => e.type === type)[n - 1];
}

const noGit: Scenario = async (d, rec, t) => {
  const init = await d.initialize();
  if (init) t.match(init.capabilities.snapshots, { enabled: false, reason: /no git executable/ }, 'initialize: snapshots off, and why');
  await d.request('config/update', { config: { tools: { runCommand: { sandbox: 'off' } } } });
  const ws = tempDir('agentd-ws-');
  const s = await d.request('session/create', { workspaceRoot: ws, policy: ALLOW });
  await d.subscribe(s.id, s.lastSeq);
  await d.request('session/message', { sessionId: s.id, content: tool('write_file', { path: 'a.txt', content: 'x' }) });
  t.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), 'x', 'the turn still runs its tools');
  await waitNth(d, s.id, 'turn.completed', 1);
  t.notOk(d.events(s.id).some((e) => e.type === 'turn.diff'), 'no turn.diff');
  const first = (await d.request('session/get', { sessionId: s.id })).messages[0];
  for (const [method, params] of [['session/diff', { sessionId: s.id }], ['session/revert', { sessionId: s.id, messageId: first.id }], ['session/unrevert', { sessionId: s.id }]] as const) {
    const out = await rec.call(method, method, params);
    t.equal(out.error?.code, -32022, `${method}: SnapshotsUnavailable`);
    t.match(out.error?.data, { reason: /no git executable/ }, `${method}: says why`);
    if (d.transport === 'rest') t.equal(out.status, 501, `${method}: HTTP 501`);
  }
  t.equal((await d.call('session/diff', { sessionId: 'ses_nope' })).error?.code, -32010, 'an unknown session is still not found');
  const c = await rec.call('compact without git', 'session/compact', { sessionId: s.id });
  t.ok(c.result?.summaryMessageId, 'compaction needs no git');
};

// PATH without git (the server itself runs from process.execPath).
await conformance(t, 'no git', noGit, { env: { PATH: tempDir('agentd-nopath-') } });

const ws = tempDir('agentd-hostile-');
const outside = tempDir('agentd-outside-');
writeFileSync(join(outside, 'secret.txt'), 'outside\n');
mkdirSync(join(outside, 'dir'));

const hostile: Scenario = async (d, _rec, t) => {
  await d.initialize();
  await d.request('config/update', { config: { tools: { runCommand: { sandbox: 'off' } }, snapshots: { maxFileBytes: 1000, maxFiles: 40 } } });
  writeFileSync(join(ws, 'keep.txt'), 'keep\n');
  const s = await d.request('session/create', { workspaceRoot: ws, policy: ALLOW });
  await d.subscribe(s.id, s.lastSeq);
  const script = [
    "printf 'n' > \"$(printf 'a\\nnew.txt')\"",
    'head -c 5000 /dev/zero > big.bin',
    `ln -s ${join(outside, 'secret.txt')} link-to-file`,
    `ln -s ${join(outside, 'dir')} link-to-dir`,
    'echo written > link-to-dir/through.txt',
    'mkdir many && for i in $(seq 1 50); do echo $i > many/f$i; done',
  ].join(' && ');
  const r = await d.request('session/message', { sessionId: s.id, content: tool('run_command', { command: script }) });
  t.match(r.content[0].text, /^Tool result/, 'the commands ran');
  const diff = (await waitNth(d, s.id, 'turn.diff', 1)).data;
  const paths = diff.files.map((f: Json) => f.path);
  t.ok(paths.includes('a\nnew.txt'), 'a name with a newline is recorded as it is');
  t.ok(paths.includes('link-to-file') && paths.includes('link-to-dir'), 'symlinks are recorded as links');
  t.notOk(paths.some((p: string) => p.startsWith('link-to-dir/')), 'nothing through a symlinked directory');
  t.notOk(paths.some((p: string) => p.startsWith('data')), 'the data directory inside the workspace is never recorded');
  t.notOk(paths.includes('big.bin'), 'the big file is not recorded');
  t.ok(diff.skipped.some((x: Json) => x.path === 'big.bin' && x.reason === 'size'), 'and reported: size');
  t.ok(diff.skipped.some((x: Json) => x.reason === 'count'), 'files past snapshots.maxFiles are reported: count');
  t.ok(paths.length <= 40, 'at most maxFiles files recorded');
  t.notOk(paths.includes('keep.txt'), 'a file recorded before is never pushed out by new ones past the count limit');
  const sd = await d.request('session/diff', { sessionId: s.id });
  const nl = sd.files.find((f: Json) => f.path === 'a\nnew.txt');
  t.match(nl, { status: 'added', additions: 1 }, 'session/diff: the newline name');
  t.ok(sd.skipped?.length, 'session/diff reports the skipped files too');

  const first = (await d.request('session/get', { sessionId: s.id })).messages[0];
  const held = readdirSync(join(ws, 'data'));
  t.ok(held.length > 0, 'the data directory holds files');
  const rv = await d.request('session/revert', { sessionId: s.id, messageId: first.id });
  t.ok(rv.files.length > 0);
  t.notOk(existsSync(join(ws, 'a\nnew.txt')), 'the newline file is removed');
  t.throws(() => lstatSync(join(ws, 'link-to-file')), 'the symlinks are removed');
  t.throws(() => lstatSync(join(ws, 'link-to-dir')));
  t.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), 'outside\n', 'the file a symlink pointed to is untouched');
  t.equal(readFileSync(join(outside, 'dir', 'through.txt'), 'utf8'), 'written\n', 'what was written through a symlinked directory (outside) is left alone');
  t.ok(existsSync(join(ws, 'big.bin')), 'an unrecorded file is left alone by a revert');
  t.equal(readFileSync(join(ws, 'keep.txt'), 'utf8'), 'keep\n');
  t.same(readdirSync(join(ws, 'data')).filter((f) => held.includes(f)), held, 'the data directory survives the revert');
  const ur = await d.request('session/unrevert', { sessionId: s.id });
  t.ok(ur.files.some((f: Json) => f.path === 'a\nnew.txt' && f.status === 'added'), 'unrevert re-creates it');
  t.equal(lstatSync(join(ws, 'link-to-file')).isSymbolicLink(), true, 'and the symlink, as a symlink');
  for (const bad of [{ sessionId: s.id, turnId: '' }, { sessionId: s.id, extra: 1 }, { sessionId: 42 }]) {
    t.equal((await d.call('session/diff', bad)).error?.code, -32602, `bad params ${JSON.stringify(bad)}`);
  }
  t.equal((await d.call('session/revert', { sessionId: s.id })).error?.code, -32602, 'revert without messageId');
};

await conformance(t, 'hostile workspace', hostile, { dataDir: join(ws, 'data') }, ['stdio']);
