/** What a built-in tool is and what it gets to run (its own file: the tools and their host both import it). */
import type { ChildProcess } from 'node:child_process';
import type { Limits } from '../../protocol/index.js';
import type { ToolContext } from './host.js';
import type { CommandSandbox } from './sandbox.js';

export interface BuiltinContext {
  /** The session's workspace root (a real path). */
  root: string;
  /** Real paths the file tools never reach, even inside the root (the data directory). */
  hidden: readonly string[];
  signal: AbortSignal;
  output: ToolContext['output'];
  limits: () => Required<Limits>;
  /** Registers a spawned process group, so shutdown can kill it (core.processes). */
  track?: (child: ChildProcess) => void;
  /** Where run_command's commands run. */
  sandbox: CommandSandbox;
}

export interface BuiltinTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  readOnly: boolean;
  /** Returns the result text; throws ToolError for a failure the model should read. */
  run(input: Record<string, unknown>, ctx: BuiltinContext): Promise<string>;
}
