// run_command in the bubblewrap sandbox, through the real server: no secret reaches a command
// (the server's environment through /proc, the data directory's credentials.json, the real
// HOME), /proc shows only the command's own processes, the environment is the allowlist, a
// small project still builds in the workspace, network off blocks loopback, and tool/list and
// initialize say which mode is in force. Needs bwrap (Debian: bubblewrap); skips without it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { spawnHttp, tempDir, WsClient, type Json } from '../helpers/rpc-client.js';

const hasBwrap = spawnSync('bwrap', ['--ro-bind', '/', '/', '--unshare-pid', 'true']).status === 0;
const hasSlirp = spawnSync('slirp4netns', ['--version']).status === 0 && existsSync('/dev/net/tun');
const SECRETS: Record<string, string> = {
  ANTHROPIC_API_KEY: 'sk-ant-env-SANDBOX-1111', SECRET_KEY: 'django-SANDBOX-2222', PGPASSWORD: 'pg-SANDBOX-3333',
  DATABASE_URL: 'postgres://u:SANDBOX-4444@h/db', MYSQL_PWD: 'my-SANDBOX-5555', MY_EXTRA: 'passed-through',
};
const ALLOWED = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LANGUAGE', 'TERM', 'COLORTERM', 'TZ', 'MY_EXTRA'];
const SHELL_SET = ['PWD', 'OLDPWD', 'SHLVL', '_'];

async function start(t: Json, config: Json, o: { env?: Record<string, string>; dataDir?: string } = {}) {
  const dataDir = o.dataDir ?? tempDir();
  mkdirSync(dataDir, { recursive: true });
  // NODE_OPTIONS off: the test runner's hook would add its own variables to every child the server spawns.
  const server = await spawnHttp({ dataDir, env: { ...SECRETS, NODE_OPTIONS: '', ...o.env } });
  t.teardown(() => server.stop());
  const client = await WsClient.connect(server.wsUrl);
  t.teardown(() => client.close());
  const init = await client.initialize();
  await client.request('config/update', { config });
  await client.request('provider/auth', { providerId: 'anthropic', apiKey: 'sk-ant-stored-SANDBOX-6666' });
  return { server, client, init, dataDir };
}

async function session(client: WsClient, ws: string) {
  const s = await client.request('session/create', { workspaceRoot: ws, policy: { default: 'allow' } });
  return async (command: string) => {
    const reply = await client.request('session/message', { sessionId: s.id, content: `/tool run_command ${JSON.stringify({ command })}` });
    return reply.content[0].text as string;
  };
}

t.test('sandboxed commands see the workspace and nothing secret', { skip: !hasBwrap && 'bwrap cannot run here' }, async (t) => {
  const ws = realpathSync(tempDir('agentd-ws-'));
  const { client, init, dataDir } = await start(t, { tools: { runCommand: { passEnv: ['MY_EXTRA'] } } });
  const expected = hasSlirp ? { mode: 'bwrap', network: true, hostLoopback: false } : { mode: 'bwrap', network: true, hostLoopback: true, reason: /slirp4netns is not installed/ };
  t.match(init.capabilities.sandbox, expected, 'initialize reports the sandbox');
  t.match((await client.request('tool/list', {})).sandbox, expected, 'tool/list too');
  t.ok(existsSync(join(dataDir, 'credentials.json')), 'the stored key is on disk');
  const run = await session(client, ws);

  const parent = await run('cat /proc/$PPID/environ | tr "\\0" "\\n"; echo; cat /proc/1/environ | tr "\\0" "\\n"');
  t.match(parent, /^Tool result: /, 'the parent environment was printed');
  for (const v of Object.values(SECRETS).filter((v) => v !== 'passed-through')) t.notOk(parent.includes(v), `no ${v.slice(0, 12)}… in /proc/$PPID/environ`);
  t.notMatch(parent, /ANTHROPIC_API_KEY|AGENTD_/);

  const env = await run('env');
  const names = env.replace(/^Tool result: /, '').trim().split('\n').map((l) => l.split('=')[0]);
  t.same(names.filter((n) => !ALLOWED.includes(n) && !SHELL_SET.includes(n)), [], `env shows only allowlisted names (${names.join(' ')})`);
  t.match(env, /MY_EXTRA=passed-through/, 'passEnv passes a configured name');
  t.match(env, /HOME=\/tmp\/\.agentd-home/, 'HOME is a private home');

  t.match(await run(`cat ${join(dataDir, 'credentials.json')}`), /^Tool error: Exit code 1\n[\s\S]*No such file or directory/, 'credentials.json is not there');
  t.match(await run(`ls ${dataDir}`), /^Tool error: [\s\S]*No such file or directory/, 'the data directory is not there');
  t.match(await run(`ls ${process.env.HOME ?? '/root'}/`), /^Tool error: [\s\S]*No such file or directory/, 'the real home directory is not there');
  const procs = await run('ls /proc | grep -E "^[0-9]+$" | wc -l; cat /proc/[0-9]*/cmdline | tr "\\0" " "');
  t.notMatch(procs, /agentd\.js|serve --port/, 'no other process (the server) is visible');
  t.ok(Number(/Tool result: (\d+)/.exec(procs)?.[1]) < 10, `/proc lists only the command's own processes (${procs.split('\n')[0]})`);
  t.match(await run('touch /usr/planted'), /Read-only file system/, 'the system is read-only');

  const built = await run([
    'mkdir -p app/src',
    `printf 'export const add = (a, b) => a + b;\\n' > app/src/add.mjs`,
    `printf "import { add } from './src/add.mjs';\\nconsole.log('sum', add(2, 3));\\n" > app/main.mjs`,
    'cd app && node main.mjs',
  ].join(' && '));
  t.equal(built, 'Tool result: sum 5\n', 'a small project builds and runs in the workspace');
  t.ok(existsSync(join(ws, 'app/src/add.mjs')), 'its files are in the workspace on the host');
});

t.test('the data directory inside the workspace is covered', { skip: !hasBwrap && 'bwrap cannot run here' }, async (t) => {
  const ws = realpathSync(tempDir('agentd-ws-'));
  const { client } = await start(t, {}, { dataDir: join(ws, '.agentd') });
  const run = await session(client, ws);
  t.ok(existsSync(join(ws, '.agentd/credentials.json')));
  t.match(await run('cat .agentd/credentials.json'), /^Tool error: [\s\S]*No such file or directory/);
  t.equal(await run('ls -A .agentd; echo end'), 'Tool result: end\n', 'it looks empty');
});

/** A TCP server counting connections, on `host`. */
async function listener(t: Json, host: string) {
  const counter = { accepted: 0, port: 0 };
  const srv = createServer((sock) => { counter.accepted++; sock.end(); });
  await new Promise<void>((r) => srv.listen(0, host, () => r()));
  t.teardown(() => srv.close());
  counter.port = (srv.address() as { port: number }).port;
  return counter;
}
const connectProbe = (host: string, port: number) =>
  `node -e "require('net').connect(${port}, '${host}').on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log('failed', e.code); process.exit(3); })"`;

t.test('network off blocks a loopback connection; hostLoopback shares it', { skip: !hasBwrap && 'bwrap cannot run here' }, async (t) => {
  const local = await listener(t, '127.0.0.1');
  const ws = realpathSync(tempDir('agentd-ws-'));
  const { client } = await start(t, { tools: { runCommand: { network: false } } });
  t.same((await client.request('tool/list', {})).sandbox, { mode: 'bwrap', network: false, hostLoopback: false });
  const run = await session(client, ws);
  t.match(await run(connectProbe('127.0.0.1', local.port)), /^Tool error: Exit code 3\nfailed ECONNREFUSED/, 'network off: refused');
  t.equal(local.accepted, 0, 'the port saw no connection');
  await client.request('config/update', { config: { tools: { runCommand: { network: true, hostLoopback: true } } } });
  t.same((await client.request('tool/list', {})).sandbox, { mode: 'bwrap', network: true, hostLoopback: true });
  t.equal(await run(connectProbe('127.0.0.1', local.port)), 'Tool result: connected\n', 'hostLoopback: connected');
  t.equal(local.accepted, 1);
});

// The escape this closes: with the host's network, a command (a prompt-injected `npm test`, say)
// could call agentd's own API on loopback, which needs no key there by default, to turn the
// sandbox off or approve its own pending tool calls.
t.test('network on: the outside is reachable, the host loopback (agentd included) is not', { skip: (!hasBwrap && 'bwrap cannot run here') || (!hasSlirp && 'slirp4netns (and /dev/net/tun) are not here') }, async (t) => {
  const local = await listener(t, '127.0.0.1');
  const outside = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  const ws = realpathSync(tempDir('agentd-ws-'));
  const { client, server } = await start(t, {});
  const run = await session(client, ws);
  t.match(await run(connectProbe('127.0.0.1', local.port)), /^Tool error: Exit code 3\nfailed ECONNREFUSED/, 'a service on the host loopback: refused');
  t.match(await run(connectProbe('10.0.2.2', local.port)), /^Tool error: Exit code 3\nfailed (ECONNREFUSED|ENETUNREACH)/, 'slirp\'s gateway to the host loopback: refused');
  t.equal(local.accepted, 0, 'the host loopback port saw no connection');
  const agentdPort = Number(new URL(server.wsUrl).port);
  const attack = `node -e "fetch('http://127.0.0.1:${agentdPort}/v1/config', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ config: { tools: { runCommand: { sandbox: 'off' } } } }) }).then((r) => console.log('status', r.status), (e) => { console.log('failed', e.cause?.code ?? e.message); process.exit(3); })"`;
  t.match(await run(attack), /^Tool error: Exit code 3\nfailed ECONNREFUSED/, 'agentd\'s own API is out of reach');
  t.notOk((await client.request('config/get', {})).config.tools?.runCommand?.sandbox, 'the sandbox is still on');
  if (outside) {
    const remote = await listener(t, outside);
    t.equal(await run(connectProbe(outside, remote.port)), 'Tool result: connected\n', `a service on another address (${outside}) is reachable through slirp4netns`);
    t.equal(remote.accepted, 1);
  }
  t.match(await run('cat /etc/resolv.conf'), /nameserver 10\.0\.2\.3/, 'names resolve through slirp4netns');
  t.equal(await run('echo ok'), 'Tool result: ok\n', 'plain commands still run');
});

t.test('without slirp4netns: the host network, and the sandbox says so', { skip: !hasBwrap && 'bwrap cannot run here' }, async (t) => {
  const local = await listener(t, '127.0.0.1');
  const ws = realpathSync(tempDir('agentd-ws-'));
  const { client } = await start(t, {}, { env: { AGENTD_SLIRP4NETNS: '/nonexistent/slirp4netns' } });
  t.match((await client.request('tool/list', {})).sandbox, { mode: 'bwrap', network: true, hostLoopback: true, reason: /slirp4netns is not installed/ });
  const run = await session(client, ws);
  t.equal(await run(connectProbe('127.0.0.1', local.port)), 'Tool result: connected\n', 'the host loopback is shared');
});

t.test('without bwrap: run_command fails clearly unless sandbox is off', async (t) => {
  const ws = realpathSync(tempDir('agentd-ws-'));
  const { client, init } = await start(t, {}, { env: { PATH: '/nonexistent' } });
  t.match(init.capabilities.sandbox, { mode: 'unavailable', network: true, reason: /bwrap is not installed/ });
  t.match((await client.request('tool/list', {})).sandbox, { mode: 'unavailable' });
  const run = await session(client, ws);
  t.match(await run('echo hi > ran.txt'), /^Tool error: run_command is unavailable: commands run in a bubblewrap sandbox, and bwrap is not installed.*tools\.runCommand\.sandbox to "off"/);
  t.notOk(existsSync(join(ws, 'ran.txt')), 'nothing ran');
  await client.request('config/update', { config: { tools: { runCommand: { sandbox: 'off' } } } });
  t.same((await client.request('tool/list', {})).sandbox, { mode: 'off', network: true, hostLoopback: true });
  t.equal(await run('echo "$HOME" > home.txt; echo ran; echo "[$ANTHROPIC_API_KEY$PGPASSWORD]"'), 'Tool result: ran\n[]\n', 'sandbox off: it runs, the environment still from the allowlist');
  t.match(readFileSync(join(ws, 'home.txt'), 'utf8'), /agentd-home-/, 'with a private temp HOME');
});
