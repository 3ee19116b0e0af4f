// Secrets (agentd API keys, provider keys) never appear in responses, events, error messages,
// logs (even at debug level), the database, or a tool's environment.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENTD, spawnHttp, tempDir, WsClient } from '../helpers/rpc-client.js';

t.test('secrets stay secret on every output channel', async (t) => {
  const dataDir = tempDir();
  const ENV_KEY = 'sk-ant-env-SECRET-1111111111';
  const STORED_KEY = 'sk-ant-stored-SECRET-2222222222';
  const BAD_KEY = 'sk-ant-rejected-SECRET-3333333333';
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ approvals: { rules: [{ tool: 'run_command', action: 'allow' }] } }));
  const created = spawnSync(process.execPath, [AGENTD, 'key', 'create', '--name', 'ci', '--data-dir', dataDir], { encoding: 'utf8' });
  const API_KEY = created.stdout.trim();
  const secrets = [ENV_KEY, STORED_KEY, BAD_KEY, API_KEY];
  t.match(API_KEY, /^agentd_/);

  const server = await spawnHttp({ dataDir, env: { ANTHROPIC_API_KEY: ENV_KEY, AGENTD_LOG_LEVEL: 'debug', MY_SERVICE_TOKEN: ENV_KEY, SECRET_KEY: ENV_KEY, PGPASSWORD: ENV_KEY, DATABASE_URL: `postgres://u:${ENV_KEY}@h/db`, MYSQL_PWD: ENV_KEY } });
  const auth = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
  const seen: string[] = [];
  const rest = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method, headers: auth, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    seen.push(`${res.status} ${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${text}`);
    return { status: res.status, json: JSON.parse(text) };
  };

  // All events, as an SSE client sees them.
  const sse = await fetch(`${server.url}/v1/events?since=0`, { headers: { authorization: `Bearer ${API_KEY}` } });
  const reader = sse.body!.getReader();
  let sseText = '';
  const pump = (async () => { for (;;) { const { done, value } = await reader.read(); if (done) return; sseText += Buffer.from(value).toString(); } })().catch(() => {});

  t.equal((await rest('POST', '/v1/provider/anthropic/auth', { apiKey: STORED_KEY })).status, 200);
  t.ok((await rest('POST', '/v1/provider/nope/auth', { apiKey: BAD_KEY })).status >= 400, 'unknown provider refused');
  t.equal((await rest('POST', '/v1/provider/anthropic/auth', { apiKey: 42 })).status, 400);
  const providers = await rest('GET', '/v1/provider');
  t.ok(providers.json.providers.find((p: { id: string }) => p.id === 'anthropic').authenticated);
  await rest('GET', '/v1/config');
  const s = await rest('POST', '/v1/session', { name: 'env' });
  const reply = await rest('POST', `/v1/session/${s.json.id}/message`, { content: `/tool run_command ${JSON.stringify({ command: `env; cat /proc/$PPID/environ; cat ${join(dataDir, 'credentials.json')}; echo done` })}` });
  t.equal(reply.status, 200);
  const got = await rest('GET', `/v1/session/${s.json.id}`);
  const toolText = JSON.stringify(got.json.messages);
  t.match(toolText, /done/, 'the command ran and its output came back');
  t.match(toolText, /PATH=/, 'the environment was printed');

  const ws = await WsClient.connect(server.wsUrl, { headers: { authorization: `Bearer ${API_KEY}` } });
  await ws.initialize();
  seen.push(JSON.stringify(await ws.call('provider/list', {})));
  seen.push(JSON.stringify(await ws.call('provider/auth', { providerId: 'anthropic', apiKey: STORED_KEY })));
  seen.push(JSON.stringify(await ws.call('provider/auth', { providerId: 'anthropic', apiKey: { key: BAD_KEY } })));
  seen.push(JSON.stringify(await ws.call('config/get', {})));
  await ws.request('session/subscribe', { since: 0 });
  await ws.waitFor(() => ws.events().length > 5, 5000, 'events');
  seen.push(JSON.stringify(ws.notifications));
  await ws.close();
  await new Promise((r) => setTimeout(r, 200));
  await reader.cancel().catch(() => {});
  await pump;
  await server.stop();

  const channels: Record<string, string> = { responses: seen.join('\n'), sse: sseText, stderr: server.stderr(), 'tool output': toolText };
  for (const f of readdirSync(dataDir)) {
    if (f === 'credentials.json') continue; // where provider keys are meant to live
    if (!statSync(join(dataDir, f)).isFile()) continue; // snapshots/: the workspace's own files, compressed by git
    channels[`data dir ${f}`] = readFileSync(join(dataDir, f)).toString('latin1');
  }
  t.ok(channels.stderr.includes('"level":30'), 'logs were written');
  t.ok(channels.sse.includes('event: tool.completed') || channels.sse.includes('event: tool.failed'), 'the SSE stream carried the tool events');
  for (const [name, text] of Object.entries(channels)) {
    for (const secret of secrets) t.notOk(text.includes(secret), `${name} does not contain ${secret.slice(0, 14)}…`);
  }
  const creds = join(dataDir, 'credentials.json');
  t.equal(statSync(creds).mode & 0o777, 0o600, 'credentials file is private');
  t.ok(readFileSync(creds, 'utf8').includes(STORED_KEY), 'the stored key is where it belongs');
});
