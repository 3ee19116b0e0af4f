/**
 * MCP tool results → Anthropic tool_result content. Text and images pass through; an embedded
 * text resource becomes text headed by its URI; an embedded image blob becomes an image; other
 * blobs, audio and resource links become a line of text describing them (the model cannot take
 * them as content); structured content without a text rendering becomes its JSON.
 */
import type { Tool, ToolResultPart } from '../../protocol/index.js';

type Part = ToolResultPart['content'][number];

interface McpContent {
  type: string;
  text?: string;
  data?: string;
  mimeType?: string;
  uri?: string;
  name?: string;
  description?: string;
  resource?: { uri: string; mimeType?: string; text?: string; blob?: string };
}

export interface McpCallResult {
  content?: McpContent[];
  structuredContent?: unknown;
  isError?: boolean;
  /** Pre-2024-11 servers. */
  toolResult?: unknown;
}

const bytes = (b64: string) => Math.floor((b64.length * 3) / 4) - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);

export function convertContent(c: McpContent): Part {
  switch (c.type) {
    case 'text':
      return { type: 'text', text: c.text ?? '' };
    case 'image':
      return { type: 'image', mediaType: c.mimeType ?? 'application/octet-stream', data: c.data ?? '' };
    case 'audio':
      return { type: 'text', text: `[audio ${c.mimeType ?? ''}, ${bytes(c.data ?? '')} bytes, not shown]` };
    case 'resource_link':
      return { type: 'text', text: `[resource link ${c.uri}${c.name ? ` "${c.name}"` : ''}${c.mimeType ? ` (${c.mimeType})` : ''}${c.description ? `: ${c.description}` : ''}]` };
    case 'resource': {
      const r = c.resource;
      if (!r) return { type: 'text', text: '[empty resource]' };
      if (typeof r.text === 'string') return { type: 'text', text: `Resource ${r.uri}${r.mimeType ? ` (${r.mimeType})` : ''}:\n${r.text}` };
      if (typeof r.blob === 'string' && r.mimeType?.startsWith('image/')) return { type: 'image', mediaType: r.mimeType, data: r.blob };
      return { type: 'text', text: `[resource ${r.uri}${r.mimeType ? ` (${r.mimeType})` : ''}, ${bytes(r.blob ?? '')} bytes of binary data, not shown]` };
    }
    default:
      return { type: 'text', text: JSON.stringify(c) };
  }
}

export function convertResult(toolUseId: string, r: McpCallResult): ToolResultPart {
  let content: Part[] = (r.content ?? []).map(convertContent);
  if (content.length === 0 && r.structuredContent !== undefined) content = [{ type: 'text', text: JSON.stringify(r.structuredContent) }];
  if (content.length === 0 && r.toolResult !== undefined) content = [{ type: 'text', text: JSON.stringify(r.toolResult) }];
  return { type: 'tool_result', toolUseId, content, ...(r.isError ? { isError: true } : {}) };
}

/** Tool names the model accepts: `mcp__<server>__<tool>` with anything outside [A-Za-z0-9_-] as `_`, at most 128 chars. */
export function modelToolName(server: string, tool: string): string {
  return `mcp__${server}__${tool.replace(/[^A-Za-z0-9_-]/g, '_')}`.slice(0, 128);
}

export function toTool(server: string, t: { name: string; title?: string; description?: string; inputSchema?: Record<string, unknown> }): Tool {
  return {
    name: modelToolName(server, t.name),
    description: t.description ?? t.title ?? `${t.name} (MCP server ${server})`,
    inputSchema: t.inputSchema ?? { type: 'object' },
    source: { type: 'mcp', server },
  };
}
