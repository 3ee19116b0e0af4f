/**
 * OAuth sign-in for HTTP MCP servers (the MCP authorization spec), through the SDK's client-side
 * auth (`auth()` with an `OAuthClientProvider`): protected-resource and authorization-server
 * discovery, dynamic client registration (or the configured `oauth.clientId`), the authorization
 * code flow with PKCE, refresh. This file only supplies the provider the SDK asks for:
 *
 * - State: per server, in `mcp-credentials.json` (mode 0600, the provider credential store), bound
 *   to the server's URL: the dynamically registered client (and the redirect URI it was
 *   registered with), the tokens with their expiry, the discovery result. Never logged or returned.
 * - Connecting (`connectProvider`) never starts a sign-in: without tokens the first 401 ends as
 *   NeedsAuth (status `needs_auth`); with tokens the SDK refreshes on a 401, and tokens that expire
 *   within a minute are refreshed before a request goes out.
 * - `start` runs discovery + registration and returns the authorization URL; its `state` (random,
 *   single use, 10 minutes) and PKCE verifier stay here. `callback` takes the state back once.
 *
 * Hostile servers: metadata whose `issuer` is not the authorization server it was fetched from,
 * or endpoints that are not https (http only on loopback), are refused; requests to the
 * authorization server follow no redirect to another origin (a token request never leaves its
 * origin), take at most 30 s, and read at most 1 MiB; token responses are checked for shape.
 */
import type { OAuthClientProvider, OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { McpServerConfig } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import { CredentialStore } from '../provider/credentials.js';
import { RpcError } from '../rpc/errors.js';
import { now } from '../session/ids.js';

/** How long a sign-in (its state) may wait for the callback. */
const STATE_TTL_MS = 10 * 60_000;
const MAX_PENDING = 100;
/** Tokens expiring within this margin are refreshed before a request goes out. */
const REFRESH_MARGIN_MS = 60_000;
/** Bounds of each request to an authorization server. */
const AUTH_FETCH_TIMEOUT_MS = 30_000;
const AUTH_FETCH_MAX_BYTES = 1 << 20;
const MAX_TOKEN_CHARS = 16_384;

interface Stored {
  /** The MCP server URL this was obtained for; another URL ignores it. */
  url: string;
  /** A dynamically registered client, and the redirect URI it was registered with. */
  client?: OAuthClientInformationMixed;
  redirectUri?: string;
  tokens?: OAuthTokens;
  /** Epoch ms; absent when the authorization server gave no expiry. */
  expiresAt?: number;
  discovery?: OAuthDiscoveryState;
  storedAt: string;
}

interface Pending {
  name: string;
  url: string;
  state: string;
  redirectUri: string;
  verifier?: string;
  authorizationUrl?: URL;
  resourceMetadataUrl?: URL;
  scope?: string;
  expires: number;
}

/** The server wants a sign-in (no tokens, or they were refused and could not be refreshed). */
export class NeedsAuthError extends Error {
  constructor() {
    super('sign-in required (mcp/auth/start)');
    this.name = 'NeedsAuthError';
  }
}

/** What the last 401 of a server said (WWW-Authenticate), for the sign-in that follows. */
export interface Challenge { resourceMetadataUrl?: URL; scope?: string }

type Sdk = typeof import('@modelcontextprotocol/sdk/client/auth.js');
let sdkAuth: Promise<Sdk> | undefined;
const authSdk = () => (sdkAuth ??= import('@modelcontextprotocol/sdk/client/auth.js'));

const isLoopbackHost = (h: string) => h === '127.0.0.1' || h === 'localhost' || h === '[::1]' || h === '::1';
const trimSlash = (s: string) => s.replace(/\/+$/, '');

/** https, or http on a loopback address (local servers and tests). */
function checkEndpoint(what: string, value: unknown) {
  if (value === undefined) return;
  let u: URL | undefined;
  try { u = new URL(String(value)); } catch { /* below */ }
  if (!u || !(u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname)))) {
    throw new Error(`authorization server metadata: ${what} must be an https URL (http only on loopback)`);
  }
}

/**
 * fetch for authorization-server requests: a timeout, a bound on the body, and redirects followed
 * only within the origin and only for GET (a POST carrying a code, verifier, secret or refresh
 * token is never re-sent elsewhere; a redirect elsewhere comes back as the 3xx it is).
 */
async function boundedFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
  let url = new URL(String(input));
  const signal = init.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(AUTH_FETCH_TIMEOUT_MS)]) : AbortSignal.timeout(AUTH_FETCH_TIMEOUT_MS);
  let res: Response | undefined;
  for (let hop = 0; hop < 4; hop++) {
    res = await fetch(url, { ...init, signal, redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) break;
    const next = new URL(location, url);
    if (next.origin !== url.origin || (init.method ?? 'GET').toUpperCase() !== 'GET') break;
    await res.body?.cancel().catch(() => {});
    url = next;
  }
  const r = res!;
  if (!r.body) return r;
  // Read at most the bound; more is an error the SDK reports as a failed request.
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = r.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > AUTH_FETCH_MAX_BYTES) {
      await reader.cancel().catch(() => {});
      throw new Error(`authorization server response larger than ${AUTH_FETCH_MAX_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return new Response(total === 0 && (r.status === 204 || r.status === 304) ? null : Buffer.concat(chunks), { status: r.status, statusText: r.statusText, headers: r.headers });
}

export interface McpAuthDeps {
  dataDir: string;
  log: Logger;
}

/** Runs SDK auth() calls that refresh tokens: `tokens()` inside them returns the stored ones as they are. */
const inAuth = new AsyncLocalStorage<true>();

export class McpAuth {
  private store: CredentialStore<Stored>;
  private pending = new Map<string, Pending>();
  private refreshing = new Map<string, Promise<unknown>>();

  constructor(private deps: McpAuthDeps) {
    this.store = new CredentialStore<Stored>(deps.dataDir, 'mcp-credentials.json');
  }

  private stored(name: string, url: string): Stored | undefined {
    const s = this.store.get(name);
    return s && s.url === url ? s : undefined;
  }

  private update(name: string, url: string, fn: (s: Stored) => void) {
    const s: Stored = this.stored(name, url) ?? { url, storedAt: now() };
    fn(s);
    s.storedAt = now();
    this.store.set(name, s);
  }

  /** Whether tokens are stored for this server (its URL). */
  signedIn(name: string, url: string): boolean {
    return !!this.stored(name, url)?.tokens;
  }

  /**
   * The provider the SDK asks during a connection: stored tokens (refreshed before expiry), and
   * never a new sign-in (NeedsAuthError instead).
   */
  connectProvider(name: string, cfg: McpServerConfig): OAuthClientProvider {
    return this.provider(name, cfg, undefined);
  }

  private provider(name: string, cfg: McpServerConfig, pending: Pending | undefined): OAuthClientProvider {
    const url = cfg.url!;
    const oauth = cfg.oauth;
    const redirectUrl = () => pending?.redirectUri ?? this.stored(name, url)?.redirectUri ?? oauth?.redirectUri ?? 'http://127.0.0.1/callback';
    const starting = pending !== undefined && pending.verifier === undefined;
    const self = this;
    return {
      get redirectUrl() { return redirectUrl(); },
      get clientMetadata(): OAuthClientMetadata {
        return {
          client_name: 'agentd', redirect_uris: [redirectUrl()], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
          token_endpoint_auth_method: oauth?.clientSecret ? 'client_secret_post' : 'none', ...(oauth?.scope ? { scope: oauth.scope } : {}),
        };
      },
      state: () => pending?.state ?? randomBytes(24).toString('base64url'),
      clientInformation: () => {
        if (oauth?.clientId) return { client_id: oauth.clientId, ...(oauth.clientSecret ? { client_secret: oauth.clientSecret } : {}) };
        const s = self.stored(name, url);
        // A registration made for another redirect URI is made again.
        return s?.client && s.redirectUri === redirectUrl() ? s.client : undefined;
      },
      saveClientInformation: (info) => {
        if (oauth?.clientId) return;
        self.update(name, url, (s) => { s.client = info; s.redirectUri = redirectUrl(); });
      },
      tokens: async () => {
        const s = self.stored(name, url);
        if (starting || !s?.tokens) return undefined;
        if (!inAuth.getStore() && s.tokens.refresh_token && s.expiresAt !== undefined && s.expiresAt - Date.now() < REFRESH_MARGIN_MS) {
          await self.refresh(name, cfg).catch((err: unknown) => self.deps.log.debug({ mcp: name, err: (err as Error).message?.slice(0, 200) }, 'MCP token refresh before expiry failed'));
          return self.stored(name, url)?.tokens;
        }
        return s.tokens;
      },
      saveTokens: (tokens) => {
        if (typeof tokens.access_token !== 'string' || tokens.access_token.length === 0 || tokens.access_token.length > MAX_TOKEN_CHARS) throw new Error('token endpoint returned no usable access_token');
        if (typeof tokens.token_type !== 'string' || tokens.token_type.toLowerCase() !== 'bearer') throw new Error('token endpoint returned a token_type other than Bearer');
        if (tokens.refresh_token !== undefined && (typeof tokens.refresh_token !== 'string' || tokens.refresh_token.length > MAX_TOKEN_CHARS)) throw new Error('token endpoint returned a bad refresh_token');
        const expiresIn = Number(tokens.expires_in);
        self.update(name, url, (s) => {
          s.tokens = { ...tokens, refresh_token: tokens.refresh_token ?? s.tokens?.refresh_token };
          s.expiresAt = Number.isFinite(expiresIn) && expiresIn > 0 ? Date.now() + expiresIn * 1000 : undefined;
        });
      },
      redirectToAuthorization: (authorizationUrl) => {
        if (!pending) throw new NeedsAuthError();
        checkEndpoint('authorization_endpoint', authorizationUrl.href);
        pending.authorizationUrl = authorizationUrl;
      },
      saveCodeVerifier: (verifier) => { if (pending) pending.verifier = verifier; },
      codeVerifier: () => {
        if (!pending?.verifier) throw new NeedsAuthError();
        return pending.verifier;
      },
      invalidateCredentials: (scope) => {
        if (scope === 'verifier') return;
        if (scope === 'all') { self.store.delete(name); return; }
        self.update(name, url, (s) => {
          if (scope === 'client') { s.client = undefined; s.redirectUri = undefined; }
          if (scope === 'tokens') { s.tokens = undefined; s.expiresAt = undefined; }
          if (scope === 'discovery') s.discovery = undefined;
        });
      },
      discoveryState: () => {
        // A connection without tokens has nothing to discover for: the 401 means "sign in".
        if (!pending && !self.stored(name, url)?.tokens) throw new NeedsAuthError();
        return starting ? undefined : self.stored(name, url)?.discovery;
      },
      saveDiscoveryState: (state) => {
        const m = state.authorizationServerMetadata;
        if (m) {
          // RFC 8414 §3.3: the metadata names the server it came from.
          if (trimSlash(String(m.issuer)) !== trimSlash(String(state.authorizationServerUrl))) {
            throw new Error(`authorization server metadata: issuer ${String(m.issuer).slice(0, 200)} is not the authorization server it was fetched from (${String(state.authorizationServerUrl).slice(0, 200)})`);
          }
          checkEndpoint('issuer', m.issuer);
          checkEndpoint('authorization_endpoint', m.authorization_endpoint);
          checkEndpoint('token_endpoint', m.token_endpoint);
          checkEndpoint('registration_endpoint', (m as { registration_endpoint?: string }).registration_endpoint);
        } else checkEndpoint('authorization server', state.authorizationServerUrl);
        self.update(name, url, (s) => { s.discovery = state; });
      },
    };
  }

  /** A refresh with the stored refresh token (single flight per server). */
  private refresh(name: string, cfg: McpServerConfig): Promise<unknown> {
    let p = this.refreshing.get(name);
    if (!p) {
      p = inAuth.run(true, async () => (await authSdk()).auth(this.provider(name, cfg, undefined), { serverUrl: cfg.url!, fetchFn: boundedFetch }))
        .finally(() => this.refreshing.delete(name));
      this.refreshing.set(name, p);
    }
    return p;
  }

  private sweep() {
    const t = Date.now();
    for (const [k, p] of this.pending) if (p.expires < t) this.pending.delete(k);
  }

  /** mcp/auth/start: discovery, registration, and the URL to open. */
  async start(name: string, cfg: McpServerConfig, redirectUri: string | undefined, challenge: Challenge = {}): Promise<string> {
    if (cfg.url === undefined) throw RpcError.invalidParams('name', 'is a stdio server; only HTTP MCP servers sign in with OAuth');
    const redirect = redirectUri ?? cfg.oauth?.redirectUri;
    if (!redirect) throw RpcError.invalidParams('redirectUri', `is required: mcpServers.${name}.oauth has no redirectUri`);
    let ru: URL | undefined;
    try { ru = new URL(redirect); } catch { /* below */ }
    if (!ru || ['javascript:', 'data:', 'file:', 'blob:', 'about:'].includes(ru.protocol) || ru.hash) throw RpcError.invalidParams('redirectUri', 'must be an absolute URL without a fragment (http(s) or an app scheme)');
    this.sweep();
    if (this.pending.size >= MAX_PENDING) throw RpcError.limit('pending MCP sign-ins', MAX_PENDING);
    const pending: Pending = {
      name, url: cfg.url, state: randomBytes(24).toString('base64url'), redirectUri: ru.href, expires: Date.now() + STATE_TTL_MS,
      resourceMetadataUrl: challenge.resourceMetadataUrl, scope: challenge.scope ?? cfg.oauth?.scope,
    };
    const { auth } = await authSdk();
    let result: string;
    try {
      result = await auth(this.provider(name, cfg, pending), { serverUrl: cfg.url, resourceMetadataUrl: pending.resourceMetadataUrl, scope: pending.scope, fetchFn: boundedFetch });
    } catch (err) {
      throw this.failure(name, 'sign-in could not start', err, cfg);
    }
    if (result !== 'REDIRECT' || !pending.authorizationUrl) throw RpcError.mcp(name, 'the authorization server asked for no sign-in');
    this.pending.set(pending.state, pending);
    this.deps.log.info({ mcp: name }, 'MCP sign-in started');
    return pending.authorizationUrl.href;
  }

  /** mcp/auth/callback: takes the state back (once), exchanges the code, stores the tokens. */
  async callback(name: string, cfg: McpServerConfig, code: string, state: string): Promise<void> {
    this.sweep();
    const pending = this.pending.get(state);
    if (!pending || pending.name !== name) throw RpcError.invalidParams('state', 'is unknown, already used or expired');
    this.pending.delete(state);
    if (pending.url !== cfg.url) throw RpcError.invalidParams('state', 'belongs to a sign-in for another URL of this server');
    const { auth } = await authSdk();
    try {
      await auth(this.provider(name, cfg, pending), { serverUrl: cfg.url, authorizationCode: code, resourceMetadataUrl: pending.resourceMetadataUrl, scope: pending.scope, fetchFn: boundedFetch });
    } catch (err) {
      throw this.failure(name, 'sign-in failed', err, cfg, [code, pending.verifier ?? '']);
    }
    this.deps.log.info({ mcp: name }, 'MCP sign-in completed');
  }

  /** mcp/auth/remove: forgets tokens, registration and pending sign-ins of the server. */
  remove(name: string) {
    this.store.delete(name);
    for (const [k, p] of this.pending) if (p.name === name) this.pending.delete(k);
  }

  /** A typed error whose reason carries no secret (the code, verifier, client secret or tokens). */
  private failure(name: string, what: string, err: unknown, cfg: McpServerConfig, extra: string[] = []): RpcError {
    if (err instanceof RpcError) return err;
    let reason = (err instanceof Error ? err.message : String(err)).slice(0, 500);
    const s = this.store.get(name);
    for (const secret of [cfg.oauth?.clientSecret, s?.tokens?.access_token, s?.tokens?.refresh_token, (s?.client as { client_secret?: string } | undefined)?.client_secret, ...extra]) {
      if (secret && secret.length >= 4) reason = reason.split(secret).join('[redacted]');
    }
    this.deps.log.warn({ mcp: name, reason }, `MCP ${what}`);
    return RpcError.mcp(name, `${what}: ${reason}`);
  }
}
