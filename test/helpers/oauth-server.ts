/**
 * A local OAuth 2.0 authorization server for tests: GET /authorize (checks client_id,
 * redirect_uri, S256 code_challenge and state; answers 302 to the redirect URI with a code),
 * POST /token for `authorization_code` (checks the PKCE verifier) and `refresh_token` grants
 * (rotating refresh tokens). Issued tokens are numbered: at-1, rt-1, at-2, ...
 * For MCP sign-in it also serves its RFC 8414 metadata (`/.well-known/oauth-authorization-server`)
 * and dynamic client registration (POST /register, which hands out `clientId`); `metadata`
 * overrides fields of that document and `tokenBody` replaces token responses (hostile servers).
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenRequest { grant: string; params: Record<string, string> }

export interface OAuthServer {
  url: string;
  clientId: string;
  /** expires_in of the next tokens issued (seconds). */
  expiresIn: number;
  tokenRequests: TokenRequest[];
  /** Access tokens currently valid. */
  validAccessTokens: Set<string>;
  /** Fields that replace those of the metadata document. */
  metadata: Record<string, unknown>;
  /** When set, what /token answers instead of tokens (status 200). */
  tokenBody?: string;
  registrations: number;
  close(): Promise<void>;
}

const b64url = (buf: Buffer) => buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

export async function startOAuthServer(clientId = 'agentd-test-client'): Promise<OAuthServer> {
  const codes = new Map<string, { challenge: string; redirectUri: string }>();
  const refreshTokens = new Set<string>();
  let n = 0;
  const state: OAuthServer = { url: '', clientId, expiresIn: 3600, tokenRequests: [], validAccessTokens: new Set(), metadata: {}, registrations: 0, close: async () => {} };

  const issue = () => {
    n++;
    const access = `at-${n}`;
    const refresh = `rt-${n}`;
    state.validAccessTokens.add(access);
    refreshTokens.add(refresh);
    return { access_token: access, refresh_token: refresh, token_type: 'Bearer', expires_in: state.expiresIn };
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', state.url);
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
    if (req.method === 'GET' && url.pathname === '/.well-known/oauth-authorization-server') {
      return json(200, {
        issuer: state.url, authorization_endpoint: `${state.url}/authorize`, token_endpoint: `${state.url}/token`, registration_endpoint: `${state.url}/register`,
        response_types_supported: ['code'], grant_types_supported: ['authorization_code', 'refresh_token'], code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['none', 'client_secret_post'], ...state.metadata,
      });
    }
    if (req.method === 'POST' && url.pathname === '/register') {
      let body = '';
      for await (const c of req) body += c;
      state.registrations++;
      return json(201, { ...JSON.parse(body), client_id: clientId, client_id_issued_at: Math.floor(Date.now() / 1000) });
    }
    if (req.method === 'GET' && url.pathname === '/authorize') {
      const q = url.searchParams;
      if (q.get('response_type') !== 'code' || q.get('client_id') !== clientId || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge') || !q.get('state') || !q.get('redirect_uri')) {
        return json(400, { error: 'invalid_request' });
      }
      const code = `code-${codes.size + 1}-${Math.random().toString(36).slice(2)}`;
      codes.set(code, { challenge: q.get('code_challenge')!, redirectUri: q.get('redirect_uri')! });
      const back = new URL(q.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state')!);
      return res.writeHead(302, { location: back.href }).end();
    }
    if (req.method === 'POST' && url.pathname === '/token') {
      let body = '';
      for await (const c of req) body += c;
      const params = Object.fromEntries(new URLSearchParams(body));
      state.tokenRequests.push({ grant: params.grant_type, params });
      if (state.tokenBody !== undefined) return res.writeHead(200, { 'content-type': 'application/json' }).end(state.tokenBody);
      if (params.client_id !== clientId) return json(401, { error: 'invalid_client' });
      if (params.grant_type === 'authorization_code') {
        const c = codes.get(params.code);
        codes.delete(params.code);
        if (!c) return json(400, { error: 'invalid_grant', error_description: 'unknown or used code' });
        if (c.redirectUri !== params.redirect_uri) return json(400, { error: 'invalid_grant', error_description: 'redirect_uri mismatch' });
        if (!params.code_verifier || b64url(createHash('sha256').update(params.code_verifier).digest()) !== c.challenge) {
          return json(400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
        }
        return json(200, issue());
      }
      if (params.grant_type === 'refresh_token') {
        if (!refreshTokens.delete(params.refresh_token)) return json(400, { error: 'invalid_grant', error_description: 'unknown refresh token' });
        return json(200, issue());
      }
      return json(400, { error: 'unsupported_grant_type' });
    }
    json(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return state;
}
