/** tool/*, permission/list and session/files: the tool list (through the approval gate's sources), pending approvals and their answers, a client serving a session's files. */
import { answerer, type ApprovalService } from '../approval/service.js';
import type { HandlerTable } from '../rpc/dispatcher.js';
import { RpcError } from '../rpc/errors.js';
import type { ClientFiles } from '../tools/client-files.js';
import type { SessionService } from '../session/service.js';
import type { ToolHost } from '../tools/host.js';
import type { CommandSandbox } from '../tools/sandbox.js';

export interface ToolHandlerDeps {
  tools: Pick<ToolHost, 'list'>;
  sessions: Pick<SessionService, 'require'>;
  sandbox: Pick<CommandSandbox, 'status'>;
  approvals: Pick<ApprovalService, 'answer' | 'list'>;
  clientFiles: Pick<ClientFiles, 'set'>;
}

export const toolHandlers = ({ tools, sessions, sandbox, approvals, clientFiles }: ToolHandlerDeps) => ({
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
  'session/files': (p, { peer }) => {
    sessions.require(p.sessionId);
    const read = p.read === true;
    const write = p.write === true;
    if ((read || write) && !peer.request) throw RpcError.invalidRequest('session/files needs a connection that carries server requests (stdio or WebSocket)');
    return clientFiles.set(p.sessionId, peer, read, write);
  },
}) satisfies Partial<HandlerTable>;
