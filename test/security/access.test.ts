// Who may connect: loopback default, API keys (CLI, hash only), Host and Origin checks, mTLS.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { AGENTD, spawnHttp, tempDir, WsClient } from '../helpers/rpc-client.js';
import { makeCerts } from '../helpers/tls.js';

const cli = (dataDir: string, ...args: string[]) =>
  spawnSync(process.execPath, [AGENTD, ...args, '--data-dir', dataDir], { encoding: 'utf8', env: { ...process.env, AGENTD_LOG_LEVEL: 'warn' } });

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const upgradeStatus = (url: string, opts: object = {}, protocols?: string[]) =>
  WsClient.connect(url, opts, protocols).then(async (c) => { await c.close(); return 101; }, (e: { status?: number }) => e.status ?? 0);

t.test('agentd key create / list / revoke; only a hash is stored', async (t) => {
  const dir = tempDir();
  const created = cli(dir, 'key', 'create', '--name', 'laptop');
  t.equal(created.status, 0);
  const key = created.stdout.trim();
  t.match(key, /^agentd_[A-Za-z0-9_-]{40,}$/);
  const list = cli(dir, 'key', 'list', '--json');
  const keys = JSON.parse(list.stdout);
  t.equal(keys.length, 1);
  t.equal(keys[0].name, 'laptop');
  t.notOk(list.stdout.includes(key), 'list never shows the key');
  for (const f of readdirSync(dir)) t.notOk(readFileSync(join(dir, f)).includes(key), `${f} does not contain the key`);
  t.equal(cli(dir, 'key', 'revoke', 'laptop').status, 0);
  t.same(JSON.parse(cli(dir, 'key', 'list', '--json').stdout), []);
  t.equal(cli(dir, 'key', 'revoke', 'laptop').status, 1, 'revoking twice fails');
  t.equal(cli(dir, 'key', 'create').status, 2, 'missing --name is a usage error');
});

t.test('binding off loopback needs a key', async (t) => {
  const dir = tempDir();
  const r = spawnSync(process.execPath, [AGENTD, 'serve', '--host', '0.0.0.0', '--port', '0', '--data-dir', dir], { encoding: 'utf8', timeout: 10_000 });
  t.equal(r.status, 1);
  t.match(r.stderr, /refusing to listen on 0\.0\.0\.0 without an API key/);
  const key = cli(dir, 'key', 'create', '--name', 'k').stdout.trim();
  const server = await spawnHttp({ dataDir: dir, args: ['--host', '0.0.0.0'] });
  t.teardown(() => server.stop());
  const port = new URL(server.url).port;
  const local = `http://127.0.0.1:${port}`;
  t.equal((await get(`${local}/v1/session`)).status, 401, 'no key: 401');
  const noKey = await get(`${local}/v1/session`);
  t.same(JSON.parse(noKey.body).error.code, -32013);
  t.not((await get(`${local}/v1/session`, { authorization: `Bearer ${key}` })).status, 401, 'with the key it passes the guard');
  t.equal(await upgradeStatus(`ws://127.0.0.1:${port}/rpc`), 401);
  t.equal(await upgradeStatus(`ws://127.0.0.1:${port}/rpc`, { headers: { authorization: `Bearer ${key}` } }), 101);
});

t.test('on loopback a key is required once one exists; header or subprotocol', async (t) => {
  const dir = tempDir();
  const server = await spawnHttp({ dataDir: dir });
  t.teardown(() => server.stop());
  t.equal(await upgradeStatus(server.wsUrl), 101, 'no keys yet: open on loopback');
  const key = cli(dir, 'key', 'create', '--name', 'k').stdout.trim();
  t.equal(await upgradeStatus(server.wsUrl), 401, 'a key now exists');
  t.equal(await upgradeStatus(server.wsUrl, { headers: { authorization: 'Bearer agentd_wrong' } }), 401, 'wrong key');
  t.equal(await upgradeStatus(server.wsUrl, { headers: { authorization: `Bearer ${key}` } }), 101);
  const c = await WsClient.connect(server.wsUrl, {}, ['agentd', `agentd.bearer.${key}`]);
  t.equal(c.ws.protocol, 'agentd', 'the token subprotocol is never echoed');
  await c.initialize();
  t.same(await c.request('session/list', {}), { sessions: [], nextCursor: null });
  await c.close();
  t.equal(cli(dir, 'key', 'revoke', 'k').status, 0);
  t.equal(await upgradeStatus(server.wsUrl), 101, 'revoked: open again');
});

t.test('Host and Origin checks; CORS only for allowed origins', async (t) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ security: { allowedOrigins: ['http://app.example'], allowedHosts: ['agentd.test'] } }));
  const server = await spawnHttp({ dataDir: dir });
  t.teardown(() => server.stop());
  const port = new URL(server.url).port;
  const evilHost = await get(`${server.url}/v1/session`, { host: `evil.example:${port}` });
  t.equal(evilHost.status, 403, 'DNS rebinding: foreign Host refused');
  t.match(JSON.parse(evilHost.body).error.message, /Host/);
  t.not((await get(`${server.url}/v1/session`, { host: `agentd.test:${port}` })).status, 403, 'configured host allowed');
  t.not((await get(`${server.url}/v1/session`, { host: `localhost:${port}` })).status, 403);
  t.equal(await upgradeStatus(server.wsUrl, { headers: { host: 'evil.example' } }), 403);

  t.equal(await upgradeStatus(server.wsUrl, { origin: 'http://evil.example' }), 403, 'foreign origin upgrade refused');
  t.equal(await upgradeStatus(server.wsUrl, { origin: 'http://app.example' }), 101, 'allowed origin upgrade');
  t.equal(await upgradeStatus(server.wsUrl, { origin: `http://127.0.0.1:${port}` }), 101, 'same origin upgrade');

  const crossPost = await get(`${server.url}/v1/session`, { origin: 'http://evil.example', 'content-type': 'text/plain' }, 'POST');
  t.equal(crossPost.status, 403, 'a simple cross-site POST changes nothing');
  t.notOk(crossPost.headers['access-control-allow-origin']);
  const preflightBad = await get(`${server.url}/v1/session`, { origin: 'http://evil.example', 'access-control-request-method': 'POST' }, 'OPTIONS');
  t.equal(preflightBad.status, 403);
  t.notOk(preflightBad.headers['access-control-allow-origin']);
  const preflight = await get(`${server.url}/v1/session`, { origin: 'http://app.example', 'access-control-request-method': 'POST' }, 'OPTIONS');
  t.equal(preflight.status, 204);
  t.equal(preflight.headers['access-control-allow-origin'], 'http://app.example');
  const allowed = await get(`${server.url}/v1/session`, { origin: 'http://app.example' });
  t.equal(allowed.headers['access-control-allow-origin'], 'http://app.example');
});

t.test('mTLS: https/wss, a client without a valid certificate is refused', async (t) => {
  const certs = makeCerts();
  const server = await spawnHttp({ args: ['--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-ca', certs.ca, '--require-client-cert'] });
  t.teardown(() => server.stop());
  t.match(server.url, /^https:/);
  const ca = readFileSync(certs.ca);
  const good = await WsClient.connect(server.wsUrl, { ca, cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) });
  await good.initialize();
  t.same(await good.request('session/list', {}), { sessions: [], nextCursor: null }, 'wss with a client certificate works');
  await good.close();
  await t.rejects(WsClient.connect(server.wsUrl, { ca }), 'no client certificate');
  await t.rejects(WsClient.connect(server.wsUrl, { ca, cert: readFileSync(certs.rogueCert), key: readFileSync(certs.rogueKey) }), 'certificate from another CA');
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpsRequest(`${server.url}/v1/health`, { ca, cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) }, (res) => { res.resume(); resolve(res.statusCode!); });
    req.on('error', reject);
    req.end();
  });
  t.ok(status > 0, 'https request with a client certificate is answered');
  const usage = spawnSync(process.execPath, [AGENTD, 'serve', '--require-client-cert', '--port', '0'], { encoding: 'utf8' });
  t.equal(usage.status, 2, 'mTLS flags without certificates are a usage error');
});
