// A data directory inside the workspace (agentd started in $HOME, whose ~/.local/share/agentd
// is then under the workspace root) stays out of the file tools' reach: read_file, write_file,
// edit_file, list_files and grep never see credentials.json or the database, through the real server.
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { spawnHttp, tempDir, WsClient } from '../helpers/rpc-client.js';

t.test('file tools cannot reach the data directory inside the workspace', async (t) => {
  const ws = realpathSync(tempDir('agentd-ws-'));
  const dataDir = join(ws, '.local', 'share', 'agentd');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(ws, 'notes.txt'), 'KEY-LIKE text in the workspace\n');
  const server = await spawnHttp({ dataDir });
  t.teardown(() => server.stop());
  const client = await WsClient.connect(server.wsUrl);
  t.teardown(() => client.close());
  await client.initialize();
  await client.request('provider/auth', { providerId: 'anthropic', apiKey: 'sk-ant-stored-DATADIR-7777' });
  t.ok(existsSync(join(dataDir, 'credentials.json')), 'the stored key is on disk, inside the workspace');
  const s = await client.request('session/create', { workspaceRoot: ws, policy: { default: 'allow' } });
  const tool = async (name: string, input: object) => {
    const reply = await client.request('session/message', { sessionId: s.id, content: `/tool ${name} ${JSON.stringify(input)}` });
    return reply.content[0].text as string;
  };
  const cred = '.local/share/agentd/credentials.json';
  t.match(await tool('read_file', { path: cred }), /data directory/, 'read_file is refused, saying why');
  t.match(await tool('read_file', { path: 'notes.txt' }), /KEY-LIKE/, 'ordinary files still read');
  t.match(await tool('write_file', { path: '.local/share/agentd/config.json', content: '{"approvals":{"default":"allow"}}' }), /data directory/);
  t.notOk(existsSync(join(dataDir, 'config.json')) && readFileSync(join(dataDir, 'config.json'), 'utf8').includes('"allow"'), 'no config was written there');
  t.match(await tool('edit_file', { path: cred, old_string: 'sk', new_string: 'xx' }), /data directory/);
  const listed = await tool('list_files', { pattern: '**/*' });
  t.notMatch(listed, /credentials\.json|agentd\.db/, 'list_files leaves the data directory out');
  t.match(listed, /notes\.txt/);
  t.notMatch(await tool('grep', { pattern: 'DATADIR-7777' }), /DATADIR-7777/, 'grep does not search it');
  t.notMatch(await tool('grep', { pattern: 'sk-ant', path: '.local/share' }), /DATADIR-7777/, 'not even when asked for its parent');
  t.equal(JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')).anthropic?.apiKey ?? 'sk-ant-stored-DATADIR-7777', 'sk-ant-stored-DATADIR-7777', 'the stored key is untouched');
});
