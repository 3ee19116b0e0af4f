// OAuth sign-in of a Streamable HTTP MCP server (the MCP authorization spec, through the SDK's
// client auth), against a local MCP server protected with the SDK's server-side auth helpers and
// the local authorization server: 401 → needs_auth, start → authorize → callback → connected, a
// tool call with the token, refresh before expiry and after a 401, a replayed state refused, sign
// out; tokens in a 0600 file and absent from every response, event and log. Over stdio, WebSocket
// and REST; then hostile authorization servers.
import { spawn } from 'node:child_process';
import { readFileSync, statSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { writeConfig } from '../helpers/mcp.js';
import { authorizeInBrowser, startProtectedMcp, tokenTag, type ProtectedMcp } from '../helpers/mcp-oauth.js';
import { AGENTD, spawnHttp, tempDir, type Json, type RpcClient } from '../helpers/rpc-client.js';
import { open, RPC_TRANSPORTS } from '../helpers/transports.js';

const REDIRECT = 'http://127.0.0.1:9/callback';
const config = (mcp: ProtectedMcp, extra: Json = {}) => ({ mcpServers: { remote: { url: mcp.url, autoConnect: true, ...extra } }, approvals: { rules: [{ tool: 'mcp__*', action: 'allow' }] } });
const text = (m: Json) => m.content.map((c: Json) => c.text ?? '').join('');
const tokensOf = (mcp: ProtectedMcp) => [...mcp.as.validAccessTokens, ...mcp.as.tokenRequests.flatMap((r) => [r.params.refresh_token, r.params.code, r.params.code_verifier])].filter(Boolean);

/** No token, refresh token, code or verifier anywhere in `haystack`. */
function noSecrets(t: Test, mcp: ProtectedMcp, haystack: string, where: string) {
  const found = [...new Set([...tokensOf(mcp), ...[...haystack.matchAll(/\b(?:at|rt)-\d+\b/g)].map((m) => m[0])])].filter((s) => haystack.includes(s));
  t.same(found, [], `no token or code in ${where}`);
}

const statusEvent = (client: RpcClient, status: string, after = 0) =>
  client.waitFor(() => client.events().slice(after).find((e) => e.type === 'mcp.status' && e.data.server.name === 'remote' && e.data.server.status === status), 15_000, `mcp.status ${status}`);

for (const transport of RPC_TRANSPORTS) {
  t.test(`MCP OAuth sign-in over ${transport}`, async (t) => {
    const mcp = await startProtectedMcp();
    t.teardown(mcp.close);
    const dataDir = tempDir();
    writeConfig(dataDir, config(mcp));
    const o = await open(transport, { dataDir, env: { AGENTD_LOG_LEVEL: 'debug' } });
    t.teardown(o.close);
    const { client } = o;
    await client.initialize({});
    await client.request('session/subscribe', { since: 0 });
    const responses: Json[] = [];
    const call = async (method: string, params: Json) => { const r = await client.request(method, params); responses.push(r); return r; };

    // A 401 without tokens: needs_auth, nothing registered or discovered yet.
    const needs = await statusEvent(client, 'needs_auth');
    t.match(needs.data.server, { transport: 'http', status: 'needs_auth', error: /mcp\/auth\/start/, tools: [] });
    t.equal(mcp.as.registrations, 0, 'connecting does not register a client');

    const { authorizationUrl } = await call('mcp/auth/start', { name: 'remote', redirectUri: REDIRECT });
    const au = new URL(authorizationUrl);
    t.equal(`${au.origin}${au.pathname}`, `${mcp.as.url}/authorize`, 'the authorization endpoint from the discovered metadata');
    t.match(Object.fromEntries(au.searchParams), { client_id: mcp.as.clientId, response_type: 'code', code_challenge_method: 'S256', redirect_uri: REDIRECT, resource: mcp.url });
    t.equal(mcp.as.registrations, 1, 'registered dynamically');
    const browser = await authorizeInBrowser(authorizationUrl);
    t.equal(browser.redirect.origin + browser.redirect.pathname, REDIRECT);

    const wrong = await client.call('mcp/auth/callback', { name: 'remote', code: browser.code, state: 'not-the-state' });
    t.match(wrong.error, { code: -32602, data: { field: 'state' } }, 'a wrong state is refused');

    // The first tokens expire within the refresh margin: the reconnect refreshes them first.
    let first = true;
    Object.defineProperty(mcp.as, 'expiresIn', { configurable: true, get: () => (first ? ((first = false), 30) : 3600) });
    const before = client.events().length;
    const done = await call('mcp/auth/callback', { name: 'remote', code: browser.code, state: browser.state });
    t.match(done.server, { status: 'connected', tools: [{ name: 'mcp__remote__whoami' }] });
    await statusEvent(client, 'connected', before);
    t.same(mcp.as.tokenRequests.map((r) => r.grant), ['authorization_code', 'refresh_token'], 'refreshed before expiry');
    t.equal(mcp.as.tokenRequests[0].params.code_verifier.length >= 43, true, 'PKCE verifier sent');

    const replay = await client.call('mcp/auth/callback', { name: 'remote', code: browser.code, state: browser.state });
    t.match(replay.error, { code: -32602, data: { field: 'state' } }, 'a replayed state is refused');

    const s = await call('session/create', { name: 'oauth' });
    const ask = () => call('session/message', { sessionId: s.id, content: '/tool mcp__remote__whoami {}' });
    t.equal(text(await ask()), `Tool result: token ${tokenTag('at-2')}`, 'the tool call carries the refreshed token');

    // The server stops accepting the token: the SDK refreshes on the 401 and retries.
    mcp.as.validAccessTokens.delete('at-2');
    t.equal(text(await ask()), `Tool result: token ${tokenTag('at-3')}`, 'refreshed after a 401');
    t.same(mcp.seenTokens.at(-1), 'at-3');

    // Stored like provider credentials.
    const file = join(dataDir, 'mcp-credentials.json');
    t.equal(statSync(file).mode & 0o777, 0o600, 'mcp-credentials.json is 0600');
    const stored = JSON.parse(readFileSync(file, 'utf8')).remote;
    t.match(stored, { url: mcp.url, tokens: { access_token: 'at-3', refresh_token: 'rt-3' }, client: { client_id: mcp.as.clientId } });

    responses.push(await call('mcp/list', {}), await call('config/get', {}));
    noSecrets(t, mcp, JSON.stringify(responses), 'responses');
    noSecrets(t, mcp, JSON.stringify(client.events()), 'events');
    noSecrets(t, mcp, o.stderr(), 'the log');

    // Sign out: tokens forgotten, disconnected; a reconnect needs a sign-in again.
    t.match((await call('mcp/auth/remove', { name: 'remote' })).server, { status: 'disconnected' });
    t.notOk(JSON.parse(readFileSync(file, 'utf8')).remote, 'tokens removed');
    t.match((await call('mcp/connect', { name: 'remote' })).server, { status: 'needs_auth' });
    t.match((await client.call('mcp/auth/start', { name: 'nope' })).error, { code: -32010 });
  });
}

t.test('MCP OAuth sign-in over REST', async (t) => {
  const mcp = await startProtectedMcp();
  t.teardown(mcp.close);
  const dataDir = tempDir();
  writeConfig(dataDir, config(mcp, { oauth: { clientId: mcp.as.clientId, redirectUri: REDIRECT } }));
  const server = await spawnHttp({ dataDir });
  t.teardown(() => server.stop());
  const rest = async (method: string, path: string, body?: Json) => {
    const res = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: await res.json() as Json };
  };
  let list;
  for (let i = 0; i < 100; i++) {
    list = (await rest('GET', '/v1/mcp')).body.servers[0];
    if (list.status === 'needs_auth') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(list.status, 'needs_auth');
  const start = await rest('POST', '/v1/mcp/remote/auth', {});
  t.equal(start.status, 200);
  t.equal(mcp.as.registrations, 0, 'the configured clientId is used, no registration');
  const b = await authorizeInBrowser(start.body.authorizationUrl);
  t.equal(b.redirect.origin + b.redirect.pathname, REDIRECT, 'the configured redirect URI');
  const bad = await rest('POST', '/v1/mcp/remote/auth/callback', { code: b.code, state: `${b.state}x` });
  t.match(bad, { status: 400, body: { error: { code: -32602 } } });
  const cb = await rest('POST', '/v1/mcp/remote/auth/callback', { code: b.code, state: b.state });
  t.match(cb, { status: 200, body: { server: { status: 'connected' } } });
  t.match(await rest('POST', '/v1/mcp/remote/auth/callback', { code: b.code, state: b.state }), { status: 400 }, 'replayed state');
  noSecrets(t, mcp, JSON.stringify([start, cb, (await rest('GET', '/v1/mcp')).body]) + server.stderr(), 'REST responses and the log');
  t.match(await rest('DELETE', '/v1/mcp/remote/auth'), { status: 200, body: { server: { status: 'disconnected' } } });
  t.notOk(existsSync(join(dataDir, 'mcp-credentials.json')) && JSON.parse(readFileSync(join(dataDir, 'mcp-credentials.json'), 'utf8')).remote);
  t.match(await rest('DELETE', '/v1/mcp/nope/auth'), { status: 404 });
});

t.test('hostile authorization servers: typed errors, no token leaves its origin', async (t) => {
  const mcp = await startProtectedMcp();
  t.teardown(mcp.close);
  // Another origin that counts what reaches it, and a redirector on yet another that sends there.
  const evilHits: string[] = [];
  const evil = createServer((req, res) => { evilHits.push(`${req.method} ${req.url}`); res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"stolen","token_type":"Bearer"}'); });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  const evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`;
  const redirector = createServer((req, res) => res.writeHead(307, { location: `${evilUrl}${req.url}` }).end());
  await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
  const redirectorUrl = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
  t.teardown(() => { evil.close(); redirector.close(); });

  const dataDir = tempDir();
  writeConfig(dataDir, config(mcp));
  const o = await open('stdio', { dataDir });
  t.teardown(o.close);
  const { client } = o;
  await client.initialize({});
  await client.request('session/subscribe', { since: 0 });
  await statusEvent(client, 'needs_auth');
  const start = () => client.call('mcp/auth/start', { name: 'remote', redirectUri: REDIRECT });

  // Metadata that claims to be another authorization server.
  mcp.as.metadata = { issuer: evilUrl };
  t.match((await start()).error, { code: -32024, message: /issuer/, data: { server: 'remote' } });
  // Endpoints that are not https (on a non-loopback host).
  mcp.as.metadata = { authorization_endpoint: 'http://auth.example/authorize' };
  t.match((await start()).error, { code: -32024, message: /https/ });
  mcp.as.metadata = {};

  // Bad redirect URIs.
  t.match((await client.call('mcp/auth/start', { name: 'remote', redirectUri: 'javascript:alert(1)' })).error, { code: -32602, data: { field: 'redirectUri' } });
  t.match((await client.call('mcp/auth/start', { name: 'remote' })).error, { code: -32602, data: { field: 'redirectUri' } }, 'no redirect URI configured or given');

  // A token endpoint that redirects the code exchange to another origin.
  mcp.as.metadata = { token_endpoint: `${redirectorUrl}/token` };
  let b = await authorizeInBrowser((await start()).result.authorizationUrl);
  t.match((await client.call('mcp/auth/callback', { name: 'remote', code: b.code, state: b.state })).error, { code: -32024, data: { server: 'remote' } });
  t.same(evilHits, [], 'the code and verifier never reached the other origin');
  mcp.as.metadata = {};

  // Token endpoints answering garbage.
  for (const body of ['<html>not json</html>', '{"access_token": 5, "token_type": "Bearer"}', '{"access_token": "x", "token_type": "MAC"}', JSON.stringify({ access_token: 'y'.repeat(20_000), token_type: 'Bearer' })]) {
    mcp.as.tokenBody = body;
    b = await authorizeInBrowser((await start()).result.authorizationUrl);
    const r = await client.call('mcp/auth/callback', { name: 'remote', code: b.code, state: b.state });
    t.match(r.error, { code: -32024, data: { server: 'remote', reason: /sign-in failed/ } }, `garbage token response refused: ${body.slice(0, 40)}`);
    t.notOk(r.error.message.includes(b.code), 'the code is not echoed');
  }
  mcp.as.tokenBody = undefined;
  t.match((await client.request('mcp/list', {})).servers[0], { status: 'needs_auth' }, 'still waiting for a sign-in');
  t.notOk(existsSync(join(dataDir, 'mcp-credentials.json')) && JSON.parse(readFileSync(join(dataDir, 'mcp-credentials.json'), 'utf8')).remote?.tokens, 'no tokens stored');

  // The client secret is a secret.
  const cfg = await client.request('config/update', { config: config(mcp, { oauth: { clientId: 'c', clientSecret: 'sup3r-secret-value' } }) });
  t.equal(cfg.config.mcpServers.remote.oauth.clientSecret, '[redacted]');
  t.notMatch(JSON.stringify(client.events()), /sup3r-secret-value/);

  // A stdio server has no sign-in.
  t.match((await client.call('config/update', { config: { mcpServers: { local: { command: 'true', oauth: {} } } } })).error, { code: -32602, data: { field: 'config.mcpServers.local.oauth' } });
});

t.test('agentd mcp login / logout from a terminal, with a loopback redirect', async (t) => {
  const mcp = await startProtectedMcp();
  t.teardown(mcp.close);
  const dataDir = tempDir();
  writeConfig(dataDir, config(mcp, { autoConnect: false }));
  const cli = (args: string[]) => spawn(process.execPath, [AGENTD, 'mcp', ...args, '--stdio', '--data-dir', dataDir], { env: { ...process.env, AGENTD_LOG_LEVEL: 'debug' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const login = cli(['login', 'remote']);
  let out = '';
  let err = '';
  login.stdout!.on('data', (d) => { out += d; });
  const url = await new Promise<string>((resolve, reject) => {
    login.stderr!.on('data', (d) => { err += d; const m = /^\s+(http:\/\/\S+\/authorize\S+)$/m.exec(err); if (m) resolve(m[1]); });
    login.once('exit', (code) => reject(new Error(`login exited ${code}: ${err}`)));
  });
  const b = await authorizeInBrowser(url);
  t.equal(b.redirect.hostname, '127.0.0.1', 'a loopback redirect');
  const page = await fetch(b.redirect);
  t.equal(page.status, 200);
  t.match(await page.text(), /Signed in/);
  const code = await new Promise<number | null>((resolve) => login.once('exit', resolve));
  t.equal(code, 0);
  t.equal(out, 'remote: connected\n');
  noSecrets(t, mcp, out + err, 'the terminal');
  const logFile = join(dataDir, 'agentd.log');
  if (existsSync(logFile)) noSecrets(t, mcp, readFileSync(logFile, 'utf8'), 'agentd.log');
  t.ok(JSON.parse(readFileSync(join(dataDir, 'mcp-credentials.json'), 'utf8')).remote.tokens, 'tokens stored');

  const logout = cli(['logout', 'remote']);
  let lo = '';
  logout.stdout!.on('data', (d) => { lo += d; });
  t.equal(await new Promise<number | null>((resolve) => logout.once('exit', resolve)), 0);
  t.match(lo, /remote: signed out/);
  t.notOk(JSON.parse(readFileSync(join(dataDir, 'mcp-credentials.json'), 'utf8')).remote);
});

t.test('agentd mcp login: the loopback listener refuses an error redirect, other paths, and gives up after --timeout', async (t) => {
  const mcp = await startProtectedMcp();
  t.teardown(mcp.close);
  const dataDir = tempDir();
  writeConfig(dataDir, config(mcp, { autoConnect: false }));
  const login = (extra: string[]) => {
    const p = spawn(process.execPath, [AGENTD, 'mcp', 'login', 'remote', ...extra, '--stdio', '--data-dir', dataDir], { env: { ...process.env, AGENTD_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d) => { err += d; });
    const redirectUri = new Promise<string>((resolve, reject) => {
      p.stderr!.on('data', () => { const m = /Waiting for the redirect to (\S+) \.\.\./.exec(err); if (m) resolve(m[1]!); });
      p.once('exit', (code) => reject(new Error(`login exited ${code}: ${err}`)));
    });
    const exit = new Promise<number | null>((resolve) => p.once('exit', resolve));
    t.teardown(() => { p.kill(); });
    return { redirectUri, exit, stderr: () => err };
  };

  const refused = login([]);
  const uri = await refused.redirectUri;
  const other = await fetch(new URL('/elsewhere?code=c&state=s', uri));
  t.equal(other.status, 404, 'another path is not the callback');
  const long = 'x'.repeat(5000);
  const page = await fetch(`${uri}?error=access_denied&error_description=${long}`);
  t.equal(page.status, 400);
  t.match(await page.text(), /Sign-in failed; see the terminal\./);
  t.equal(await refused.exit, 2, 'a usage error');
  t.match(refused.stderr(), /the authorization server answered access_denied: x+/);
  t.notMatch(refused.stderr(), 'x'.repeat(301), 'the description is cut short');

  const late = login(['--timeout', '1']);
  await late.redirectUri;
  t.equal(await late.exit, 2);
  t.match(late.stderr(), /no redirect from the browser within 1 s/);
  t.equal(mcp.as.tokenRequests.length, 0, 'no code was exchanged');
});
