/**
 * A Streamable HTTP MCP server protected by OAuth, built with the MCP SDK's own server-side auth
 * helpers (protected-resource metadata router, bearer-token middleware), trusting the tokens of
 * the local authorization server (./oauth-server.ts). Its one tool `whoami` answers with the
 * token it was called with, so a test sees which token reached it.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { mcpAuthMetadataRouter, getOAuthProtectedResourceMetadataUrl } from '@modelcontextprotocol/sdk/server/auth/router.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import express from 'express';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { startOAuthServer, type OAuthServer } from './oauth-server.js';

export interface ProtectedMcp {
  url: string;
  as: OAuthServer;
  /** Access tokens the MCP server saw, in order. */
  seenTokens: string[];
  /** Replaces the protected-resource metadata document (a hostile resource server). */
  resourceMetadata?: Record<string, unknown>;
  close(): Promise<void>;
}

export async function startProtectedMcp(): Promise<ProtectedMcp> {
  const as = await startOAuthServer();
  const app = express();
  const state: ProtectedMcp = { url: '', as, seenTokens: [], close: async () => {} };
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.url = `${base}/mcp`;
  const prmUrl = getOAuthProtectedResourceMetadataUrl(new URL(state.url));
  app.use((req, res, next) => {
    if (state.resourceMetadata && req.path.startsWith('/.well-known/oauth-protected-resource')) return res.json(state.resourceMetadata);
    next();
  });
  app.use(mcpAuthMetadataRouter({
    oauthMetadata: { issuer: as.url, authorization_endpoint: `${as.url}/authorize`, token_endpoint: `${as.url}/token`, response_types_supported: ['code'] },
    resourceServerUrl: new URL(state.url),
  }));
  const bearer = requireBearerAuth({
    resourceMetadataUrl: prmUrl,
    verifier: {
      verifyAccessToken: async (token) => {
        if (!as.validAccessTokens.has(token)) throw new InvalidTokenError('unknown or expired token');
        return { token, clientId: as.clientId, scopes: [], expiresAt: Math.floor(Date.now() / 1000) + 3600 };
      },
    },
  });
  app.post('/mcp', express.json(), bearer, async (req, res) => {
    state.seenTokens.push(req.auth!.token);
    const mcp = new McpServer({ name: 'protected', version: '1.0.0' });
    mcp.registerTool('whoami', { description: 'Which token called me' }, async (extra) => ({ content: [{ type: 'text', text: `token ${tokenTag(extra.authInfo?.token ?? '')}` }] }));
    // Stateless: one server and transport per request.
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => { void transport.close(); void mcp.close(); });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  app.get('/mcp', bearer, (_req, res) => res.status(405).end());
  state.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await as.close();
  };
  return state;
}

/** What a browser does with the authorization URL: the authorization server's redirect, as {code, state}. */
export async function authorizeInBrowser(authorizationUrl: string): Promise<{ code: string; state: string; redirect: URL }> {
  const res = await fetch(authorizationUrl, { redirect: 'manual' });
  const location = res.headers.get('location');
  if (res.status !== 302 || !location) throw new Error(`authorize answered ${res.status}: ${await res.text()}`);
  const redirect = new URL(location);
  return { code: redirect.searchParams.get('code')!, state: redirect.searchParams.get('state')!, redirect };
}

/** What `whoami` says about a token (not the token itself: a test also checks no token is ever shown). */
export const tokenTag = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 12);
