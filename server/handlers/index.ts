/** Every handler, by method name: the one table the dispatcher serves. */
import type { HandlerTable } from '../rpc/dispatcher.js';
import { configHandlers } from './config.js';
import { lifecycleHandlers } from './lifecycle.js';
import { mcpHandlers } from './mcp.js';
import { providerHandlers } from './provider.js';
import { sessionHandlers } from './session.js';
import { toolHandlers } from './tool.js';

export const handlers: HandlerTable = {
  ...lifecycleHandlers,
  ...sessionHandlers,
  ...providerHandlers,
  ...toolHandlers,
  ...mcpHandlers,
  ...configHandlers,
};
