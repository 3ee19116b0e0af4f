/** tool/*, permission/list and session/files: the tool list (through the approval gate's sources), pending approvals and their answers, a client serving a session's files. */
import { answerer, type ApprovalService } from '../approval/service.js';
import type { HandlerTable } from '../rpc/dispatcher.js';
import { RpcError } from '../rpc/errors.js';
import type { ClientFiles } from '../tools/client-files.js';
import type { SessionService } from '../session/service.js';
import type { ToolHost } from '../tools/host.js';
import type { CommandSandbox } from '../tools/sandbox.js';
import type { SessionAccess } from '../security/access.js';

export interface ToolHandlerDeps {
  tools: Pick<ToolHost, 'list'>;
  sessions: Pick<SessionService, 'require'>;
  sandbox: Pick<CommandSandbox, 'status'>;
  approvals: Pick<ApprovalService, 'answer' | 'list'>;
  clientFiles: Pick<ClientFiles, 'set'>;
  /** A permission of a session the caller may not drive is NotFound. */
  access: Pick<SessionAccess, 'mayAccess'>;
}

export const toolHandlers = ({ tools, sessions, sandbox, approvals, clientFiles, access }: ToolHandlerDeps) => ({
  'tool/list': async (p) => {
    const list = tools.list(p.sessionId ? await sessions.require(p.sessionId) : undefined);
    return { tools: list, sandbox: await sandbox.status() };
  },
  'tool/approve': (p, { peer, caller }) =>
    approvals.answer(p.permissionId, { decision: p.decision, ...(p.reason ? { reason: p.reason } : {}), by: answerer(peer, 'tool/approve') }, p.toolName,
      caller && ((sessionId) => access.mayAccess(sessionId, caller))),
  'permission/list': async (p, { caller }) => {
    if (p.sessionId !== undefined) await sessions.require(p.sessionId);
    const all = approvals.list(p.sessionId);
    const allowed = caller ? await Promise.all(all.map((x) => access.mayAccess(x.sessionId, caller))) : [];
    return { permissions: caller ? all.filter((_, i) => allowed[i]) : all };
  },
  'session/files': async (p, { peer }) => {
    await sessions.require(p.sessionId);
    const read = p.read === true;
    const write = p.write === true;
    if ((read || write) && !peer.request) throw RpcError.invalidRequest('session/files needs a connection that carries server requests (stdio or WebSocket)');
    return clientFiles.set(p.sessionId, peer, read, write);
  },
}) satisfies Partial<HandlerTable>;
