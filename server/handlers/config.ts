/** config/*: the config document (server/config/service.ts); secrets never come back. */
import type { ConfigService } from '../config/service.js';
import type { ProviderRegistry } from '../provider/registry.js';
import type { HandlerTable } from '../rpc/dispatcher.js';
import { RpcError } from '../rpc/errors.js';

export interface ConfigHandlerDeps {
  config: ConfigService;
  providers: Pick<ProviderRegistry, 'list' | 'has' | 'ready'>;
}

export const configHandlers = ({ config, providers }: ConfigHandlerDeps) => {
  const result = () => ({ config: config.public(), projectConfig: config.projectState() });
  return {
    'config/get': () => result(),
    'config/update': async (p, { peer }) => {
      // Otherwise every later session/create fails with "provider not found".
      const dp = p.config.defaultProvider;
      if (dp !== undefined && !providers.has(dp)) await providers.ready();
      if (dp !== undefined && !providers.has(dp) && p.config.providers?.[dp]?.type !== 'openai-compatible') {
        throw RpcError.invalidParams('config.defaultProvider', `names no provider (known: ${providers.list().map((x) => x.id).join(', ')})`);
      }
      await config.checkUpdate(p.config, peer);
      config.update(p.config);
      // Stored for the other nodes (a shared store) before the reply.
      await config.saved();
      return result();
    },
    // Trusting grants no more than config/update already does (a client could write the same keys
    // into the user config); the hash makes sure what applies is what the client showed its user.
    'config/trust': (p) => {
      config.trustProject(p.hash);
      return result();
    },
  } satisfies Partial<HandlerTable>;
};
