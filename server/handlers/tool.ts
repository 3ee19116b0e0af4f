/** tool/*. */
import type { HandlerTable } from '../rpc/dispatcher.js';

export const toolHandlers: HandlerTable = {
  'tool/list': (p, { core }) => ({ tools: core.tools.list(p.sessionId ? core.sessions.record(p.sessionId) : undefined) }),
};
