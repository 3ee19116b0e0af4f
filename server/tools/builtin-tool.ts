/** What a built-in tool is and what it gets to run (its own file: the tools and their host both import it). */
import type { Limits } from '../../protocol/index.js';
import type { FileAccess } from './client-files.js';
import type { ToolContext } from './host.js';
import type { ProcessRegistry } from './processes.js';
import type { CommandSandbox } from './sandbox.js';

export interface BuiltinContext {
  /** The session's workspace root (a real path). */
  root: string;
  /** Real paths the file tools never reach, even inside the root (the data directory). */
  hidden: readonly string[];
  signal: AbortSignal;
  output: ToolContext['output'];
  limits: () => Required<Limits>;
  /** Where spawned process groups are tracked (shutdown kills them) and killed: every kill goes through it. */
  processes: Pick<ProcessRegistry, 'register' | 'kill'>;
  /** Where run_command's commands run. */
  sandbox: CommandSandbox;
  /** Set when a client serves the session's files (session/files): reads and/or writes go through it. */
  files?: FileAccess;
}

export interface BuiltinTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  readOnly: boolean;
  /** Returns the result text; throws ToolError for a failure the model should read. */
  run(input: Record<string, unknown>, ctx: BuiltinContext): Promise<string>;
}
