/** Every handler, by method name: the one table the dispatcher serves, built over the services each group calls. */
import type { HandlerTable } from '../rpc/dispatcher.js';
import { changeHandlers, type ChangeHandlerDeps } from './changes.js';
import { configHandlers, type ConfigHandlerDeps } from './config.js';
import { keyHandlers, type KeyHandlerDeps } from './key.js';
import { lifecycleHandlers, type LifecycleHandlerDeps } from './lifecycle.js';
import { mcpHandlers, type McpHandlerDeps } from './mcp.js';
import { providerHandlers, type ProviderHandlerDeps } from './provider.js';
import { sessionHandlers, type SessionHandlerDeps } from './session.js';
import { toolHandlers, type ToolHandlerDeps } from './tool.js';

/** What all the handler groups need together (the composition root passes each service once). */
export type HandlerDeps = Omit<LifecycleHandlerDeps, 'methods'> & SessionHandlerDeps & ProviderHandlerDeps & ToolHandlerDeps & McpHandlerDeps & ConfigHandlerDeps & ChangeHandlerDeps & KeyHandlerDeps;

export function handlers(deps: HandlerDeps): HandlerTable {
  const methods: string[] = [];
  const table: HandlerTable = {
    ...lifecycleHandlers({ ...deps, methods }),
    ...sessionHandlers(deps),
    ...changeHandlers(deps),
    ...providerHandlers(deps),
    ...toolHandlers(deps),
    ...mcpHandlers(deps),
    ...configHandlers(deps),
    ...keyHandlers(deps),
  };
  // initialize advertises the names of this very table.
  methods.push(...Object.keys(table));
  return table;
}

// The compiler proves the table complete: a table without one method is not a HandlerTable
// (this line stops compiling if HandlerTable ever turns optional again).
type MustBeFalse<T extends false> = T;
type _MissingHandlerFails = MustBeFalse<Omit<HandlerTable, 'mcp/list'> extends HandlerTable ? true : false>;
