// The client's file system: an editor that declares fs.readTextFile / fs.writeTextFile serves the
// built-in file tools (its buffer, not the disk, is what read_file returns; writes land in the
// editor), with the workspace-root checks still agentd's: a path outside is refused unasked.
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { anthropicAcp, initialize, newSession, prompt } from '../helpers/acp.js';
import { reply, type Json } from '../helpers/anthropic-server.js';
import { tempDir } from '../helpers/rpc-client.js';

const lastResult = (body: Json) => JSON.stringify(body.messages.at(-1).content.find((c: Json) => c.type === 'tool_result'));

t.test('fs through the client: reads the buffer, writes into the editor, confined to the root', async (t) => {
  const { anthropic, spawn } = await anthropicAcp(t, { approvals: { rules: [{ tool: '{write_file,edit_file}', action: 'allow' }] } });
  const ws = realpathSync(tempDir('agentd-acp-ws-'));
  writeFileSync(join(ws, 'a.txt'), 'on disk\n');
  const h = spawn();
  await initialize(h, true);
  const { sessionId } = await newSession(h, ws);
  h.buffers.set(join(ws, 'a.txt'), 'unsaved buffer\nsecond line\n');

  anthropic.script(reply.toolUse([{ id: 'r1', name: 'read_file', input: { path: 'a.txt' } }]), reply.text(['read']));
  await prompt(h, sessionId, 'read');
  t.match(lastResult(anthropic.requests.at(-1)!.body), /unsaved buffer/, 'read_file returned the client\'s buffer');
  t.notMatch(lastResult(anthropic.requests.at(-1)!.body), /on disk/, 'not the disk');
  t.same(h.fsCalls.at(-1), { method: 'fs/read_text_file', params: { sessionId, path: join(ws, 'a.txt') } }, 'asked with the absolute path');

  anthropic.script(reply.toolUse([{ id: 'e1', name: 'edit_file', input: { path: 'a.txt', old_string: 'second', new_string: 'edited' } }]), reply.text(['edited']),
    reply.toolUse([{ id: 'w1', name: 'write_file', input: { path: 'sub/new.txt', content: 'brand new' } }]), reply.text(['written']));
  await prompt(h, sessionId, 'edit');
  await prompt(h, sessionId, 'write');
  t.equal(h.buffers.get(join(ws, 'a.txt')), 'unsaved buffer\nedited line\n', 'edit_file edited the buffer');
  t.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), 'on disk\n', 'the disk is untouched');
  t.equal(h.buffers.get(join(ws, 'sub', 'new.txt')), 'brand new', 'write_file wrote into the editor');
  t.notOk(existsSync(join(ws, 'sub')), 'nothing written to disk');

  // Confinement stays agentd's: the editor is never asked about a path outside the root.
  const asked = h.fsCalls.length;
  anthropic.script(reply.toolUse([{ id: 'x1', name: 'read_file', input: { path: '../outside.txt' } }, { id: 'x2', name: 'write_file', input: { path: '/etc/agentd-nope', content: 'x' } }]), reply.text(['refused']));
  await prompt(h, sessionId, 'escape');
  const results = JSON.stringify(anthropic.requests.at(-1)!.body.messages.at(-1).content);
  t.match(results, /outside the workspace/, 'refused as outside the workspace');
  t.equal(h.fsCalls.length, asked, 'the editor was not asked');

  // A file the editor does not have: the client's error is the tool's error result.
  anthropic.script(reply.toolUse([{ id: 'm1', name: 'read_file', input: { path: 'missing.txt' } }]), reply.text(['missing']));
  await prompt(h, sessionId, 'missing');
  t.match(lastResult(anthropic.requests.at(-1)!.body), /failed in the client/, 'the editor\'s refusal is the result');

  // Without the capability: the disk, and the editor is never asked.
  const h2 = spawn();
  await initialize(h2);
  const s2 = await newSession(h2, ws);
  anthropic.script(reply.toolUse([{ id: 'd1', name: 'read_file', input: { path: 'a.txt' } }]), reply.text(['disk']));
  await prompt(h2, s2.sessionId, 'read');
  t.match(lastResult(anthropic.requests.at(-1)!.body), /on disk/, 'without fs: the disk');
  t.equal(h2.fsCalls.length, 0);
});
