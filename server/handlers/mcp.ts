/** mcp/*: MCP servers (server/mcp/manager.ts). */
import type { McpManager } from '../mcp/manager.js';
import type { HandlerTable } from '../rpc/dispatcher.js';

export interface McpHandlerDeps {
  mcp: Pick<McpManager, 'servers' | 'connect' | 'disconnect' | 'authStart' | 'authCallback' | 'authRemove' | 'resources' | 'prompts' | 'readResource'>;
}

export const mcpHandlers = ({ mcp }: McpHandlerDeps) => ({
  'mcp/list': () => ({ servers: mcp.servers() }),
  'mcp/connect': async (p) => ({ server: await mcp.connect(p.name) }),
  'mcp/disconnect': async (p) => ({ server: await mcp.disconnect(p.name) }),
  'mcp/auth/start': (p) => mcp.authStart(p.name, p.redirectUri),
  'mcp/auth/callback': async (p) => ({ server: await mcp.authCallback(p.name, p.code, p.state) }),
  'mcp/auth/remove': async (p) => ({ server: await mcp.authRemove(p.name) }),
  'mcp/resources': (p) => mcp.resources(p.name),
  'mcp/resource/read': (p, { signal }) => mcp.readResource(p.name, p.uri, signal),
  'mcp/prompts': (p) => mcp.prompts(p.name),
}) satisfies Partial<HandlerTable>;
