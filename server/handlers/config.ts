/** config/*: the config document (server/config/service.ts); secrets never come back. */
import type { HandlerTable } from '../rpc/dispatcher.js';
import { RpcError } from '../rpc/errors.js';

export const configHandlers: HandlerTable = {
  'config/get': (_p, { core }) => ({ config: core.config.public() }),
  'config/update': (p, { core }) => {
    // Otherwise every later session/create fails with "provider not found".
    const dp = p.config.defaultProvider;
    if (dp !== undefined && !core.providers.has(dp)) {
      throw RpcError.invalidParams('config.defaultProvider', `names no provider (known: ${core.providers.list().map((x) => x.id).join(', ')})`);
    }
    core.config.update(p.config);
    return { config: core.config.public() };
  },
};
