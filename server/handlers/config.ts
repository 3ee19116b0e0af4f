/** config/*: the config document (server/config/service.ts); secrets never come back. */
import type { HandlerTable } from '../rpc/dispatcher.js';

export const configHandlers = {
  'config/get': (_p, { core }) => ({ config: core.config.public() }),
  'config/update': (p, { core }) => {
    core.config.update(p.config);
    return { config: core.config.public() };
  },
} satisfies Partial<HandlerTable>;
