/**
 * Where the agent loop gets its tools: built-in workspace tools and, later, MCP tools. A tool
 * failure is a result with isError (it goes back to the model), never a thrown protocol error.
 */
import type { Tool, ToolResultPart } from '../../protocol/index.js';
import type { SessionRecord } from '../store/store.js';

export interface ToolCall {
  id: string;
  name: string;
  input: Record<string, unknown>;
}

export interface ToolContext {
  session: SessionRecord;
  turnId: string;
  /** Aborted on cancel: the tool must stop (and kill what it started). */
  signal: AbortSignal;
  /** Streams a chunk of output as a `tool.output` event. */
  output(stream: 'stdout' | 'stderr', text: string): void;
}

export interface ToolHost {
  list(session?: SessionRecord): Tool[];
  execute(call: ToolCall, ctx: ToolContext): Promise<ToolResultPart>;
}

/** A host with no tools: what the core offers until tools are registered. */
export const noTools: ToolHost = {
  list: () => [],
  execute: async (call) => ({ type: 'tool_result', toolUseId: call.id, isError: true, content: [{ type: 'text', text: `Unknown tool: ${call.name}` }] }),
};
