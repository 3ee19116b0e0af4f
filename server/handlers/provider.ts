/** provider/*. */
import type { HandlerTable } from '../rpc/dispatcher.js';

export const providerHandlers: HandlerTable = {
  'provider/list': (_p, { core }) => ({ providers: core.providers.list() }),
};
