/**
 * The built-in workspace tools as one ToolSource: read_file, write_file, edit_file,
 * list_files, grep, run_command. Inputs are validated against each tool's JSON Schema; any
 * failure (bad input, path outside the workspace, missing file, non-zero exit) is an error
 * result for the model, never a thrown protocol error.
 */
import type { Ajv, ValidateFunction } from 'ajv';
import type { Limits, Tool, ToolResultPart } from '../../protocol/index.js';
import type { SessionRecord } from '../store/store.js';
import type { BuiltinTool } from './builtin-tool.js';
import type { ClientFiles } from './client-files.js';
import { runCommandTool } from './command.js';
import { editFileTool, grepTool, listFilesTool, readFileTool, writeFileTool } from './files.js';
import { errorResult, type ToolCall, type ToolContext, type ToolSource } from './host.js';
import { ProcessRegistry } from './processes.js';
import { CommandSandbox } from './sandbox.js';
import { ToolError } from './workspace.js';

export const BUILTIN_TOOLS: BuiltinTool[] = [readFileTool, writeFileTool, editFileTool, listFilesTool, grepTool, runCommandTool];

/** Ajv is loaded and each tool's schema compiled on its first call, not at start (cold start, bench/). */
let ajv: Ajv | undefined;
async function compile(schema: object): Promise<ValidateFunction> {
  if (!ajv) {
    // Node's ESM loader names the CommonJS export `Ajv`; a bundler may only offer `default`.
    const mod = await import('ajv');
    const Ctor = mod.Ajv ?? (mod.default as unknown as { Ajv?: typeof mod.Ajv }).Ajv ?? (mod.default as unknown as typeof mod.Ajv);
    ajv = new Ctor({ allErrors: false, strict: false });
  }
  return ajv.compile(schema);
}

export class BuiltinToolHost implements ToolSource {
  readonly id = 'builtin';
  private tools = new Map<string, { tool: BuiltinTool; validate?: ValidateFunction }>();

  /** `sandbox` defaults to the bwrap sandbox with default settings. */
  constructor(
    private limits: () => Required<Limits>,
    tools: BuiltinTool[] = BUILTIN_TOOLS,
    private processes: Pick<ProcessRegistry, 'register' | 'kill'> = new ProcessRegistry(),
    readonly sandbox: CommandSandbox = new CommandSandbox({ settings: () => undefined }),
    /** Real paths the file tools never reach (the data directory, should a workspace contain it). */
    private hidden: readonly string[] = [],
    /** Sessions whose files a client serves (session/files). */
    private clientFiles?: Pick<ClientFiles, 'access'>,
  ) {
    for (const tool of tools) this.tools.set(tool.name, { tool });
  }

  has(name: string): boolean {
    return this.tools.has(name);
  }

  list(_session?: SessionRecord): Tool[] {
    return [...this.tools.values()].map(({ tool }) => ({
      name: tool.name, description: tool.description, inputSchema: tool.inputSchema, source: { type: 'builtin' }, readOnly: tool.readOnly,
    }));
  }

  async execute(call: ToolCall, ctx: ToolContext): Promise<ToolResultPart> {
    const entry = this.tools.get(call.name);
    if (!entry) return errorResult(call, `Unknown tool: ${call.name}`);
    const validate = (entry.validate ??= await compile(entry.tool.inputSchema));
    if (!validate(call.input)) {
      const e = validate.errors?.[0];
      return errorResult(call, `Invalid input for ${call.name}: ${e ? `${e.instancePath || '(input)'} ${e.message}` : 'does not match the schema'}`);
    }
    try {
      const text = await entry.tool.run(call.input, { root: ctx.session.workspaceRoot, hidden: this.hidden, signal: ctx.signal, output: ctx.output, limits: this.limits, processes: this.processes, sandbox: this.sandbox, files: this.clientFiles?.access(ctx.session.id) });
      return { type: 'tool_result', toolUseId: call.id, content: [{ type: 'text', text }] };
    } catch (err) {
      if (err instanceof ToolError) return errorResult(call, err.message);
      const e = err as NodeJS.ErrnoException;
      return errorResult(call, `${call.name} failed: ${e.code ?? ''}${e.code ? ' ' : ''}${e.message ?? String(err)}`);
    }
  }
}
