/** mcp/*: MCP servers (server/mcp/manager.ts). */
import type { HandlerTable } from '../rpc/dispatcher.js';

export const mcpHandlers = {
  'mcp/list': (_p, { core }) => ({ servers: core.mcp.servers() }),
  'mcp/connect': async (p, { core }) => ({ server: await core.mcp.connect(p.name) }),
  'mcp/disconnect': async (p, { core }) => ({ server: await core.mcp.disconnect(p.name) }),
} satisfies Partial<HandlerTable>;
