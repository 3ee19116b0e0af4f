/** tool/*: the tool list (through the approval gate's sources) and approval answers. */
import type { HandlerTable } from '../rpc/dispatcher.js';

export const toolHandlers = {
  'tool/list': async (p, { core }) => {
    const tools = core.tools.list(p.sessionId ? core.sessions.require(p.sessionId) : undefined);
    return { tools, sandbox: await core.sandbox.status() };
  },
  'tool/approve': (p, { core }) =>
    core.approvals.answer(p.permissionId, { decision: p.decision, ...(p.reason ? { reason: p.reason } : {}) }, p.toolName),
} satisfies Partial<HandlerTable>;
