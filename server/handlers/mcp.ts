/** mcp/*: MCP servers (server/mcp/manager.ts), and session/mcp: a session's own (server/mcp/session.ts). */
import type { McpManager } from '../mcp/manager.js';
import type { SessionMcp } from '../mcp/session.js';
import type { HandlerTable } from '../rpc/dispatcher.js';
import type { SessionService } from '../session/service.js';

export interface McpHandlerDeps {
  mcp: Pick<McpManager, 'servers' | 'connect' | 'disconnect' | 'authStart' | 'authCallback' | 'authRemove'>;
  sessionMcp: Pick<SessionMcp, 'set' | 'resources' | 'prompts' | 'readResource'>;
  sessions: Pick<SessionService, 'require'>;
}

export const mcpHandlers = ({ mcp, sessionMcp, sessions }: McpHandlerDeps) => {
  /** A given sessionId must name a session. */
  const known = async (sessionId?: string) => { if (sessionId !== undefined) await sessions.require(sessionId); return sessionId; };
  return {
    'mcp/list': () => ({ servers: mcp.servers() }),
    'mcp/connect': async (p) => ({ server: await mcp.connect(p.name) }),
    'mcp/disconnect': async (p) => ({ server: await mcp.disconnect(p.name) }),
    'mcp/auth/start': (p) => mcp.authStart(p.name, p.redirectUri),
    'mcp/auth/callback': async (p) => ({ server: await mcp.authCallback(p.name, p.code, p.state) }),
    'mcp/auth/remove': async (p) => ({ server: await mcp.authRemove(p.name) }),
    'mcp/resources': async (p) => sessionMcp.resources(p.name, await known(p.sessionId)),
    'mcp/resource/read': async (p, { signal }) => sessionMcp.readResource(p.name, p.uri, signal, await known(p.sessionId)),
    'mcp/prompts': async (p) => sessionMcp.prompts(p.name, await known(p.sessionId)),
    'session/mcp': async (p, { peer }) => ({ servers: await sessionMcp.set(await sessions.require(p.sessionId), p.servers, peer) }),
  } satisfies Partial<HandlerTable>;
};
