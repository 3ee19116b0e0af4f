/** tool/* and permission/list: the tool list (through the approval gate's sources), pending approvals and their answers. */
import { answerer, type ApprovalService } from '../approval/service.js';
import type { HandlerTable } from '../rpc/dispatcher.js';
import type { SessionService } from '../session/service.js';
import type { ToolHost } from '../tools/host.js';
import type { CommandSandbox } from '../tools/sandbox.js';

export interface ToolHandlerDeps {
  tools: Pick<ToolHost, 'list'>;
  sessions: Pick<SessionService, 'require'>;
  sandbox: Pick<CommandSandbox, 'status'>;
  approvals: Pick<ApprovalService, 'answer' | 'list'>;
}

export const toolHandlers = ({ tools, sessions, sandbox, approvals }: ToolHandlerDeps) => ({
  'tool/list': async (p) => {
    const list = tools.list(p.sessionId ? sessions.require(p.sessionId) : undefined);
    return { tools: list, sandbox: await sandbox.status() };
  },
  'tool/approve': (p, { peer }) =>
    approvals.answer(p.permissionId, { decision: p.decision, ...(p.reason ? { reason: p.reason } : {}), by: answerer(peer, 'tool/approve') }, p.toolName),
  'permission/list': (p) => {
    if (p.sessionId !== undefined) sessions.require(p.sessionId);
    return { permissions: approvals.list(p.sessionId) };
  },
}) satisfies Partial<HandlerTable>;
