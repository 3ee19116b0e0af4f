/**
 * The tool host the agent loop sees is composed: sources (built-in workspace tools, each MCP
 * server manager, test tools) are merged by a CompositeToolHost, and the approval gate
 * (server/approval/gate.ts) sits in front of it. A source is just a ToolHost with an id; a call
 * goes to the source that lists the tool's name.
 */
import type { Tool, ToolResultPart } from '../../protocol/index.js';
import type { SessionRecord } from '../store/store.js';
import { noTools, type ToolCall, type ToolContext, type ToolHost } from './host.js';

export interface ToolSource extends ToolHost {
  /** Unique id of the source (`builtin`, `mcp`, ...). */
  readonly id: string;
}

export class CompositeToolHost implements ToolHost {
  private sources: ToolSource[] = [];

  /** Adds a source (replacing one with the same id). Earlier sources win on a name clash. */
  add(source: ToolSource): void {
    this.remove(source.id);
    this.sources.push(source);
  }

  remove(id: string): void {
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

  /** The tool and its source, or undefined when no source offers the name. */
  find(name: string, session?: SessionRecord): { tool: Tool; source: ToolSource } | undefined {
    for (const source of this.sources) {
      const tool = source.list(session).find((t) => t.name === name);
      if (tool) return { tool, source };
    }
    return undefined;
  }

  execute(call: ToolCall, ctx: ToolContext): Promise<ToolResultPart> {
    const found = this.find(call.name, ctx.session);
    return found ? found.source.execute(call, ctx) : noTools.execute(call, ctx);
  }
}
