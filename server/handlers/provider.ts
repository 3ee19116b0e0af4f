/** provider/*: list providers, store API keys, the OAuth authorization code + PKCE flow. */
import type { HandlerTable } from '../rpc/dispatcher.js';
import { RpcError } from '../rpc/errors.js';
import { now } from '../session/ids.js';

export const providerHandlers = {
  'provider/list': async (p, { core }) => {
    await core.providers.refresh(p.refresh === true);
    return { providers: core.providers.list() };
  },

  'provider/auth': (p, { core }) => {
    const info = core.providers.get(p.providerId).info();
    if (!info.authMethods.includes('apiKey')) throw RpcError.invalidParams('providerId', `${p.providerId} takes no API key`);
    core.credentials.set(p.providerId, { type: 'apiKey', apiKey: p.apiKey, storedAt: now() });
    core.log.info({ provider: p.providerId }, 'provider API key stored');
    return { providerId: p.providerId, authenticated: true };
  },

  'provider/oauth/authorize': (p, { core }) => {
    core.providers.get(p.providerId);
    return core.oauth.authorize(p.providerId, p.redirectUri);
  },

  'provider/oauth/callback': async (p, { core, signal }) => {
    core.providers.get(p.providerId);
    const r = await core.oauth.callback(p.providerId, p.code, p.state, signal);
    core.log.info({ provider: p.providerId }, 'provider OAuth tokens stored');
    return r;
  },
} satisfies Partial<HandlerTable>;
