/** provider/*: list providers, store API keys, the OAuth authorization code + PKCE flow. */
import type { Logger } from '../log.js';
import type { CredentialStore } from '../provider/credentials.js';
import type { OAuthService } from '../provider/oauth.js';
import type { ProviderRegistry } from '../provider/registry.js';
import type { HandlerTable } from '../rpc/dispatcher.js';
import { RpcError } from '../rpc/errors.js';
import { now } from '../session/ids.js';

export interface ProviderHandlerDeps {
  providers: Pick<ProviderRegistry, 'list' | 'get' | 'refresh'>;
  credentials: Pick<CredentialStore, 'set'>;
  oauth: Pick<OAuthService, 'authorize' | 'callback'>;
  log: Logger;
}

export const providerHandlers = ({ providers, credentials, oauth, log }: ProviderHandlerDeps) => ({
  'provider/list': async (p) => {
    await providers.refresh(p.refresh === true);
    return { providers: providers.list() };
  },

  'provider/auth': (p) => {
    const info = providers.get(p.providerId).info();
    if (!info.authMethods.includes('apiKey')) throw RpcError.invalidParams('providerId', `${p.providerId} takes no API key`);
    credentials.set(p.providerId, { type: 'apiKey', apiKey: p.apiKey, storedAt: now() });
    log.info({ provider: p.providerId }, 'provider API key stored');
    return { providerId: p.providerId, authenticated: true };
  },

  'provider/oauth/authorize': (p) => {
    providers.get(p.providerId);
    return oauth.authorize(p.providerId, p.redirectUri);
  },

  'provider/oauth/callback': async (p, { signal }) => {
    providers.get(p.providerId);
    const r = await oauth.callback(p.providerId, p.code, p.state, signal);
    log.info({ provider: p.providerId }, 'provider OAuth tokens stored');
    return r;
  },
}) satisfies Partial<HandlerTable>;
