// Built-in tools through the real server over each JSON-RPC transport, driven by the offline
// echo provider (`/tool <name> <json>`): tool/list, a write, and path escapes refused.
import { existsSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { tempDir, type Json } from '../helpers/rpc-client.js';
import { open, RPC_TRANSPORTS } from '../helpers/transports.js';

for (const transport of RPC_TRANSPORTS) {
  t.test(`built-in tools over ${transport}`, async (t) => {
    const ws = realpathSync(tempDir('agentd-ws-'));
    const outside = realpathSync(tempDir('agentd-outside-'));
    writeFileSync(join(outside, 'secret.txt'), 'TOP SECRET\n');
    symlinkSync(outside, join(ws, 'link-out'));
    symlinkSync(join(outside, 'secret.txt'), join(ws, 'secret-link'));
    const { client, close } = await open(transport);
    t.teardown(close);
    await client.initialize();

    const { tools } = await client.request('tool/list', {});
    t.same(tools.map((x: Json) => x.name).sort(), ['edit_file', 'grep', 'list_files', 'read_file', 'run_command', 'todo_write', 'write_file']);
    t.ok(tools.every((x: Json) => x.source.type === 'builtin' && x.inputSchema.type === 'object' && typeof x.readOnly === 'boolean'));
    t.equal(tools.find((x: Json) => x.name === 'read_file').readOnly, true);
    t.equal(tools.find((x: Json) => x.name === 'run_command').readOnly, false);

    // Approvals are tested in test/approval; here every call is allowed.
    const s = await client.request('session/create', { workspaceRoot: ws, policy: { default: 'allow' } });
    const forSession = await client.request('tool/list', { sessionId: s.id });
    t.equal(forSession.tools.length, tools.length);
    await client.request('session/subscribe', { sessionId: s.id });

    const call = async (name: string, input: Json) => {
      const reply = await client.request('session/message', { sessionId: s.id, content: `/tool ${name} ${JSON.stringify(input)}` });
      return reply.content[0].text as string;
    };

    t.equal(await call('write_file', { path: 'a/b.txt', content: 'hello' }), 'Tool result: Wrote 5 bytes to a/b.txt');
    t.equal(readFileSync(join(ws, 'a/b.txt'), 'utf8'), 'hello');
    t.equal(await call('read_file', { path: 'a/b.txt' }), 'Tool result: hello');
    t.equal(await call('run_command', { command: 'cat a/b.txt' }), 'Tool result: hello');

    const escapes: Array<[string, Json]> = [
      ['read_file', { path: '../../etc/passwd' }],
      ['read_file', { path: '/etc/passwd' }],
      ['read_file', { path: 'secret-link' }],
      ['read_file', { path: 'link-out/secret.txt' }],
      ['write_file', { path: 'link-out/planted.txt', content: 'x' }],
      ['write_file', { path: '../planted.txt', content: 'x' }],
      ['edit_file', { path: 'secret-link', old_string: 'TOP', new_string: 'NO' }],
    ];
    for (const [name, input] of escapes) {
      const text = await call(name, input);
      t.match(text, /^Tool error: Path is outside the workspace/, `${name} ${JSON.stringify(input)} refused`);
      t.notMatch(text, /TOP SECRET|root:/, 'nothing was read');
    }
    await client.waitFor(() => client.events(s.id).filter((e: Json) => e.type === 'tool.failed').length >= escapes.length, 5000, 'tool.failed events');
    const failed = client.events(s.id).filter((e: Json) => e.type === 'tool.failed');
    t.equal(failed.length, escapes.length, 'one tool.failed per refused call');
    t.ok(failed.every((e: Json) => e.data.result.isError === true && e.data.error.code === -32030 && /outside the workspace/.test(e.data.error.message)));
    t.same(failed.map((e: Json) => [e.data.tool, e.data.input]), escapes, 'tool.failed carries the tool name and input');
    t.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), 'TOP SECRET\n');
    t.notOk(existsSync(join(outside, 'planted.txt')));
    t.notOk(existsSync(join(ws, '..', 'planted.txt')));
  });
}
