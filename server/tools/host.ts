/**
 * Where the agent loop gets its tools: the built-in workspace tools and each connected MCP server's, as sources of one CompositeToolHost. A tool
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

/** One provider of tools inside a CompositeToolHost (the built-in tools, an MCP server, ...). */
export interface ToolSource extends ToolHost {
  /** A name for logs, e.g. `builtin` or `mcp:<server>`. */
  readonly id: string;
  /** Whether this source serves the named tool (for this session). */
  has(name: string, session?: SessionRecord): boolean;
}

/** The one shape of a failed tool call, as the model reads it: an isError tool_result with one text. */
export const errorResult = (call: Pick<ToolCall, 'id'>, text: string): ToolResultPart => ({ type: 'tool_result', toolUseId: call.id, isError: true, content: [{ type: 'text', text }] });

/**
 * Several tool sources behind one ToolHost: `list` concatenates them (first source wins on a
 * name clash), `execute` routes a call to the source that has the tool. Sources can be added
 * and removed at run time (MCP servers come and go).
 */
export class CompositeToolHost implements ToolHost {
  private sources: ToolSource[];

  constructor(sources: ToolSource[] = []) {
    this.sources = [...sources];
  }

  add(source: ToolSource) {
    this.remove(source.id);
    this.sources.push(source);
  }

  remove(id: string) {
    this.sources = this.sources.filter((s) => s.id !== id);
  }

  list(session?: SessionRecord): Tool[] {
    const seen = new Set<string>();
    const out: Tool[] = [];
    for (const s of this.sources) {
      for (const t of s.list(session)) {
        if (seen.has(t.name)) continue;
        seen.add(t.name);
        out.push(t);
      }
    }
    return out;
  }

  async execute(call: ToolCall, ctx: ToolContext): Promise<ToolResultPart> {
    const source = this.sources.find((s) => s.has(call.name, ctx.session));
    if (!source) return errorResult(call, `Unknown tool: ${call.name}`);
    return source.execute(call, ctx);
  }
}
