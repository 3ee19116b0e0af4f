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

// The compiler proves the table complete: a table without one method is not a HandlerTable
// (this line stops compiling if HandlerTable ever turns optional again).
type MustBeFalse<T extends false> = T;
type _MissingHandlerFails = MustBeFalse<Omit<HandlerTable, 'mcp/list'> extends HandlerTable ? true : false>;
