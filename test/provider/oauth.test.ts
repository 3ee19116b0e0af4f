// The OAuth 2.0 authorization code + PKCE flow over each transport, against a local OAuth
// server: authorize → (browser) → callback → tokens stored → used by the Anthropic provider →
// refreshed when expired; a wrong or replayed state is refused.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { reply, startAnthropicServer } from '../helpers/anthropic-server.js';
import { startOAuthServer } from '../helpers/oauth-server.js';
import { tempDir, type Json } from '../helpers/rpc-client.js';
import { open, RPC_TRANSPORTS } from '../helpers/transports.js';

/** What a browser does with the authorization URL: follow it to the redirect, read code and state. */
async function browse(url: string) {
  const res = await fetch(url, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`authorize answered ${res.status}: ${await res.text()}`);
  const back = new URL(res.headers.get('location')!);
  return { code: back.searchParams.get('code')!, state: back.searchParams.get('state')!, redirect: `${back.origin}${back.pathname}` };
}

for (const transport of RPC_TRANSPORTS) {
  t.test(`provider OAuth over ${transport}`, async (t) => {
    const oauth = await startOAuthServer();
    const api = await startAnthropicServer();
    t.teardown(() => Promise.all([oauth.close(), api.close()]));
    const dataDir = tempDir();
    const redirectUri = 'http://127.0.0.1:9/oauth/callback';
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({
      providers: { anthropic: { oauth: { authorizationUrl: `${oauth.url}/authorize`, tokenUrl: `${oauth.url}/token`, clientId: oauth.clientId, redirectUri, scopes: ['user:inference', 'user:profile'] } } },
    }));
    const { client, close } = await open(transport, { dataDir, env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: '' } });
    t.teardown(close);
    await client.initialize();
    const credentials = () => JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')).anthropic;
    const anthropic = async () => (await client.request('provider/list', {})).providers.find((p: Json) => p.id === 'anthropic');

    t.match(await anthropic(), { authenticated: false, authMethods: ['apiKey', 'oauth'] });

    // authorize: the URL carries state and an S256 challenge.
    const a = await client.request('provider/oauth/authorize', { providerId: 'anthropic' });
    const url = new URL(a.url);
    t.equal(`${url.origin}${url.pathname}`, `${oauth.url}/authorize`);
    t.equal(url.searchParams.get('state'), a.state);
    t.equal(url.searchParams.get('code_challenge_method'), 'S256');
    t.match(url.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
    t.equal(url.searchParams.get('client_id'), oauth.clientId);
    t.equal(url.searchParams.get('redirect_uri'), redirectUri);
    t.equal(url.searchParams.get('scope'), 'user:inference user:profile');
    const b = await browse(a.url);
    t.equal(b.state, a.state);
    t.equal(b.redirect, redirectUri);

    // A wrong state is refused and exchanges nothing.
    const wrong = await client.call('provider/oauth/callback', { providerId: 'anthropic', code: b.code, state: 'not-the-state' });
    t.equal(wrong.error?.code, -32602);
    t.equal(wrong.error?.data.field, 'state');
    t.equal(oauth.tokenRequests.length, 0, 'no token request for a wrong state');

    const cb = await client.request('provider/oauth/callback', { providerId: 'anthropic', code: b.code, state: b.state });
    t.same(cb, { providerId: 'anthropic', authenticated: true });
    t.equal(oauth.tokenRequests.length, 1);
    t.match(oauth.tokenRequests[0], { grant: 'authorization_code', params: { code: b.code, redirect_uri: redirectUri, client_id: oauth.clientId } });
    t.match(oauth.tokenRequests[0].params.code_verifier, /^[A-Za-z0-9_-]{43,128}$/, 'the PKCE verifier was sent (and checked by the server)');
    t.notMatch(JSON.stringify(cb), /at-1|rt-1/, 'no token in the response');

    // Replaying the same state is refused.
    const replay = await client.call('provider/oauth/callback', { providerId: 'anthropic', code: b.code, state: b.state });
    t.equal(replay.error?.code, -32602);
    t.equal(oauth.tokenRequests.length, 1);

    t.equal(statSync(join(dataDir, 'credentials.json')).mode & 0o777, 0o600);
    t.match(credentials(), { type: 'oauth', accessToken: 'at-1', refreshToken: 'rt-1' });
    t.ok(credentials().expiresAt > Date.now() + 3_000_000);
    t.match(await anthropic(), { authenticated: true, authSource: 'oauth' });

    // The provider uses the access token.
    const s = await client.request('session/create', { provider: 'anthropic', workspaceRoot: tempDir('agentd-ws-') });
    api.script(reply.text(['with oauth']));
    await client.request('session/message', { sessionId: s.id, content: 'hi' });
    t.equal(api.requests[0].headers.authorization, 'Bearer at-1');
    t.equal(api.requests[0].headers['x-api-key'], undefined);
    t.equal(oauth.tokenRequests.length, 1, 'a valid token is not refreshed');

    // Time passes: the access token has expired. It is refreshed before the next call.
    const expired = { ...credentials(), expiresAt: Date.now() - 1000 };
    writeFileSync(join(dataDir, 'credentials.json'), JSON.stringify({ anthropic: expired }), { mode: 0o600 });
    api.script(reply.text(['refreshed']));
    const r = await client.request('session/message', { sessionId: s.id, content: 'again' });
    t.same(r.content, [{ type: 'text', text: 'refreshed' }]);
    t.equal(oauth.tokenRequests.length, 2);
    t.match(oauth.tokenRequests[1], { grant: 'refresh_token', params: { refresh_token: 'rt-1', client_id: oauth.clientId } });
    t.equal(api.requests[1].headers.authorization, 'Bearer at-2', 'the refreshed token is used');
    t.match(credentials(), { type: 'oauth', accessToken: 'at-2', refreshToken: 'rt-2' });

    // A code the server does not know: a typed provider error, and the state is spent.
    const c = await client.request('provider/oauth/authorize', { providerId: 'anthropic', redirectUri: 'http://127.0.0.1:9/other' });
    t.equal(new URL(c.url).searchParams.get('redirect_uri'), 'http://127.0.0.1:9/other');
    const bad = await client.call('provider/oauth/callback', { providerId: 'anthropic', code: 'made-up', state: c.state });
    t.match(bad.error, { code: -32017, data: { provider: 'anthropic', status: 400, type: 'invalid_grant' } });
    t.match(credentials(), { accessToken: 'at-2' }, 'stored tokens unchanged');

    // A provider without OAuth endpoints.
    const echo = await client.call('provider/oauth/authorize', { providerId: 'echo' });
    t.equal(echo.error?.code, -32602);
  });
}
