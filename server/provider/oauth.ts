/**
 * OAuth 2.0 authorization code flow with PKCE (S256), through oauth4webapi, for providers whose
 * config names OAuth endpoints (`providers.<id>.oauth`). `authorize` returns the URL to open;
 * `callback` exchanges code + state (single use, 10 minutes) for tokens and stores them in the
 * credentials file; `accessToken` hands out a valid access token, refreshing an expired one first.
 */
import type * as oauth from 'oauth4webapi';

type OAuthLib = typeof oauth;
let lib: Promise<OAuthLib> | undefined;
/** oauth4webapi, loaded on the first OAuth operation (a start never needs it). */
const oauthLib = () => (lib ??= import('oauth4webapi'));
import type { ProviderConfig } from '../../protocol/index.js';
import type { ConfigService } from '../config/service.js';
import type { Logger } from '../log.js';
import { RpcError } from '../rpc/errors.js';
import { now } from '../session/ids.js';
import type { CredentialStore } from './credentials.js';

type OAuthConfig = NonNullable<ProviderConfig['oauth']>;

interface Pending {
  providerId: string;
  verifier: string;
  redirectUri: string;
  expires: number;
}

/** How long an authorization (its state) may wait for the callback. */
const STATE_TTL_MS = 10 * 60_000;
/** Tokens expiring within this margin are refreshed before use. */
const REFRESH_MARGIN_MS = 60_000;
const MAX_PENDING = 100;

const isLoopback = (url: string) => {
  try {
    const { hostname } = new URL(url);
    return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
  } catch {
    return false;
  }
};

export class OAuthService {
  private pending = new Map<string, Pending>();
  private refreshing = new Map<string, Promise<string>>();

  constructor(private config: ConfigService, private credentials: CredentialStore, private log: Logger) {}

  /** The provider's OAuth endpoints, if configured. */
  settings(providerId: string): OAuthConfig | undefined {
    return this.config.get().providers?.[providerId]?.oauth;
  }

  private require(providerId: string): OAuthConfig {
    const cfg = this.settings(providerId);
    if (!cfg) throw RpcError.invalidParams('providerId', `has no OAuth endpoints configured (providers.${providerId}.oauth)`);
    return cfg;
  }

  private server(cfg: OAuthConfig): oauth.AuthorizationServer {
    return { issuer: new URL(cfg.tokenUrl).origin, authorization_endpoint: cfg.authorizationUrl, token_endpoint: cfg.tokenUrl };
  }

  /** Plain http is accepted for loopback endpoints only (local development and tests). */
  private options(o: OAuthLib, cfg: OAuthConfig, signal?: AbortSignal) {
    return { [o.allowInsecureRequests]: isLoopback(cfg.tokenUrl), signal };
  }

  async authorize(providerId: string, redirectUri?: string): Promise<{ url: string; state: string }> {
    const cfg = this.require(providerId);
    const redirect = redirectUri ?? cfg.redirectUri;
    if (!redirect) throw RpcError.invalidParams('redirectUri', `is required: providers.${providerId}.oauth has no redirectUri`);
    this.sweep();
    if (this.pending.size >= MAX_PENDING) throw RpcError.limit('pending OAuth authorizations', MAX_PENDING);
    const o = await oauthLib();
    const verifier = o.generateRandomCodeVerifier();
    const challenge = await o.calculatePKCECodeChallenge(verifier);
    const state = o.generateRandomState();
    const url = new URL(cfg.authorizationUrl);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', cfg.clientId);
    url.searchParams.set('redirect_uri', redirect);
    url.searchParams.set('code_challenge', challenge);
    url.searchParams.set('code_challenge_method', 'S256');
    url.searchParams.set('state', state);
    if (cfg.scopes?.length) url.searchParams.set('scope', cfg.scopes.join(' '));
    this.pending.set(state, { providerId, verifier, redirectUri: redirect, expires: Date.now() + STATE_TTL_MS });
    return { url: url.href, state };
  }

  async callback(providerId: string, code: string, state: string, signal?: AbortSignal) {
    const cfg = this.require(providerId);
    this.sweep();
    const p = this.pending.get(state);
    // Single use: a state is forgotten as soon as it is presented, whatever happens next.
    this.pending.delete(state);
    if (!p || p.providerId !== providerId) throw RpcError.invalidParams('state', 'is unknown, expired or already used');
    const as = this.server(cfg);
    const client: oauth.Client = { client_id: cfg.clientId };
    const o = await oauthLib();
    try {
      const params = o.validateAuthResponse(as, client, new URLSearchParams({ code, state }), state);
      const res = await o.authorizationCodeGrantRequest(as, client, o.None(), params, p.redirectUri, p.verifier, this.options(o, cfg, signal));
      const tokens = await o.processAuthorizationCodeResponse(as, client, res);
      this.store(providerId, tokens);
    } catch (err) {
      throw this.failure(o, providerId, 'token exchange', err);
    }
    return { providerId, authenticated: true };
  }

  /** A valid access token for the provider, refreshing it first when it has (nearly) expired. */
  async accessToken(providerId: string, signal?: AbortSignal): Promise<string | undefined> {
    const cred = this.credentials.get(providerId);
    if (cred?.type !== 'oauth') return undefined;
    if (cred.expiresAt === undefined || cred.expiresAt - REFRESH_MARGIN_MS > Date.now()) return cred.accessToken;
    if (!cred.refreshToken) throw RpcError.unauthorized(`the OAuth access token of ${providerId} has expired and there is no refresh token; authorize again`);
    const cfg = this.require(providerId);
    let inflight = this.refreshing.get(providerId);
    if (!inflight) {
      inflight = this.refresh(providerId, cfg, cred.refreshToken, signal).finally(() => this.refreshing.delete(providerId));
      this.refreshing.set(providerId, inflight);
    }
    return inflight;
  }

  private async refresh(providerId: string, cfg: OAuthConfig, refreshToken: string, signal?: AbortSignal): Promise<string> {
    const as = this.server(cfg);
    const client: oauth.Client = { client_id: cfg.clientId };
    const o = await oauthLib();
    try {
      const res = await o.refreshTokenGrantRequest(as, client, o.None(), refreshToken, this.options(o, cfg, signal));
      const tokens = await o.processRefreshTokenResponse(as, client, res);
      // A server that does not rotate refresh tokens keeps the old one valid.
      this.store(providerId, { ...tokens, refresh_token: tokens.refresh_token ?? refreshToken });
      this.log.info({ provider: providerId }, 'OAuth access token refreshed');
      return tokens.access_token;
    } catch (err) {
      throw this.failure(o, providerId, 'token refresh', err);
    }
  }

  private store(providerId: string, t: oauth.TokenEndpointResponse) {
    this.credentials.set(providerId, {
      type: 'oauth',
      accessToken: t.access_token,
      ...(t.refresh_token ? { refreshToken: t.refresh_token } : {}),
      ...(typeof t.expires_in === 'number' ? { expiresAt: Date.now() + t.expires_in * 1000 } : {}),
      storedAt: now(),
    });
  }

  /** A typed error that says what failed without echoing tokens or codes. */
  private failure(o: OAuthLib, providerId: string, what: string, err: unknown): RpcError {
    if (err instanceof RpcError) return err;
    let status: number | undefined;
    let type = 'oauth_error';
    if (err instanceof o.ResponseBodyError) {
      status = err.status;
      type = err.error;
    } else if (err instanceof o.OperationProcessingError) type = err.code ?? type;
    this.log.warn({ provider: providerId, status, type }, `OAuth ${what} failed`);
    return RpcError.provider(`OAuth ${what} failed for ${providerId}${status ? ` (HTTP ${status})` : ''}: ${type}`, { provider: providerId, ...(status ? { status } : {}), type });
  }

  private sweep() {
    const t = Date.now();
    for (const [state, p] of this.pending) if (p.expires < t) this.pending.delete(state);
  }
}
