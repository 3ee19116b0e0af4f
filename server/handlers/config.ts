/** config/*: the config document (server/config/service.ts); secrets never come back. */
import type { HandlerTable } from '../rpc/dispatcher.js';

export const configHandlers: HandlerTable = {
  'config/get': (_p, { core }) => ({ config: core.config.public() }),
  'config/update': async (p, { core, peer }) => {
    await core.config.check(p.config, peer);
    core.config.update(p.config);
    return { config: core.config.public() };
  },
};
