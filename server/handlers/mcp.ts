/** mcp/*: MCP servers (server/mcp/manager.ts). */
import type { McpManager } from '../mcp/manager.js';
import type { HandlerTable } from '../rpc/dispatcher.js';

export interface McpHandlerDeps {
  mcp: Pick<McpManager, 'servers' | 'connect' | 'disconnect'>;
}

export const mcpHandlers = ({ mcp }: McpHandlerDeps) => ({
  'mcp/list': () => ({ servers: mcp.servers() }),
  'mcp/connect': async (p) => ({ server: await mcp.connect(p.name) }),
  'mcp/disconnect': async (p) => ({ server: await mcp.disconnect(p.name) }),
}) satisfies Partial<HandlerTable>;
