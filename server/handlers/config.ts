/** config/*: the config document (server/config/service.ts); secrets never come back. */
import type { HandlerTable } from '../rpc/dispatcher.js';
import type { Core } from '../core.js';
import { RpcError } from '../rpc/errors.js';

const result = (core: Core) => ({ config: core.config.public(), projectConfig: core.config.projectState() });

export const configHandlers = {
  'config/get': (_p, { core }) => result(core),
  'config/update': async (p, { core, peer }) => {
    // Otherwise every later session/create fails with "provider not found".
    const dp = p.config.defaultProvider;
    if (dp !== undefined && !core.providers.has(dp)) await core.providers.ready();
    if (dp !== undefined && !core.providers.has(dp) && p.config.providers?.[dp]?.type !== 'openai-compatible') {
      throw RpcError.invalidParams('config.defaultProvider', `names no provider (known: ${core.providers.list().map((x) => x.id).join(', ')})`);
    }
    await core.config.checkUpdate(p.config, peer);
    core.config.update(p.config);
    return result(core);
  },
  // Trusting grants no more than config/update already does (a client could write the same keys
  // into the user config); the hash makes sure what applies is what the client showed its user.
  'config/trust': (p, { core }) => {
    core.config.trustProject(p.hash);
    return result(core);
  },
} satisfies Partial<HandlerTable>;
