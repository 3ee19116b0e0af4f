/** tool/* and permission/list: the tool list (through the approval gate's sources), pending approvals and their answers. */
import { answerer } from '../approval/service.js';
import type { HandlerTable } from '../rpc/dispatcher.js';

export const toolHandlers = {
  'tool/list': async (p, { core }) => {
    const tools = core.tools.list(p.sessionId ? core.sessions.require(p.sessionId) : undefined);
    return { tools, sandbox: await core.sandbox.status() };
  },
  'tool/approve': (p, { core, peer }) =>
    core.approvals.answer(p.permissionId, { decision: p.decision, ...(p.reason ? { reason: p.reason } : {}), by: answerer(peer, 'tool/approve') }, p.toolName),
  'permission/list': (p, { core }) => {
    if (p.sessionId !== undefined) core.sessions.require(p.sessionId);
    return { permissions: core.approvals.list(p.sessionId) };
  },
} satisfies Partial<HandlerTable>;
