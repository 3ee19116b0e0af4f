/**
 * Pure translations between agentd's protocol and ACP v1: prompt blocks to message content,
 * agentd events and stored messages to `session/update`s, tool calls to ACP tool calls (title,
 * kind, locations, diff content), stop reasons, approval answers, modes. No I/O here.
 */
import { isAbsolute, resolve } from 'node:path';
import type * as acp from '@agentclientprotocol/sdk';
import type { ApprovalPolicy, ApprovalRule, ImagePart, PlanEntry, McpServerConfig, Message, PermissionDecision, ResourceRefPart, TextPart, ToolResultPart, TypedEvent } from '../../protocol/client/node.js';

type Input = Record<string, unknown>;
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** Where a tool's main path argument points, absolute (ACP paths are absolute). */
function pathOf(root: string, input: Input): string | undefined {
  const p = str(input.path);
  if (p === undefined) return undefined;
  return isAbsolute(p) ? p : resolve(root, p);
}

/** The ACP kind of an agentd tool, by its name. */
export function toolKind(tool: string): acp.ToolKind {
  switch (tool) {
    case 'read_file': return 'read';
    case 'write_file':
    case 'edit_file': return 'edit';
    case 'list_files':
    case 'grep': return 'search';
    case 'run_command': return 'execute';
    case 'todo_write': return 'think';
    default: return /fetch/i.test(tool) ? 'fetch' : /delete|remove/i.test(tool) ? 'delete' : 'other';
  }
}

const short = (s: string, n = 120) => { const one = s.replace(/\s+/g, ' ').trim(); return one.length > n ? `${one.slice(0, n - 1)}…` : one; };

/** A human title for a tool call: `Edit src/a.ts`, `Run npm test`, `echo (MCP everything)`. */
export function toolTitle(tool: string, input: Input): string {
  const path = str(input.path);
  switch (tool) {
    case 'read_file': return `Read ${path ?? 'file'}`;
    case 'write_file': return `Write ${path ?? 'file'}`;
    case 'edit_file': return `Edit ${path ?? 'file'}`;
    case 'list_files': return `List ${str(input.pattern) ?? '**/*'}${path ? ` in ${path}` : ''}`;
    case 'grep': return `Search ${short(str(input.pattern) ?? '')}${path ? ` in ${path}` : ''}`;
    case 'run_command': return `Run ${short(str(input.command) ?? '')}`;
    case 'todo_write': return 'Update the plan';
  }
  const mcp = /^mcp__(.+?)__(.+)$/.exec(tool);
  return mcp ? `${mcp[2]} (MCP ${mcp[1]})` : tool;
}

export function toolLocations(root: string, input: Input): acp.ToolCallLocation[] {
  const path = pathOf(root, input);
  return path ? [{ path, ...(typeof input.start_line === 'number' ? { line: input.start_line } : {}) }] : [];
}

/** The `tool_call` that announces a call. */
export function toolCall(root: string, callId: string, tool: string, input: Input, status: acp.ToolCallStatus): acp.SessionUpdate {
  return { sessionUpdate: 'tool_call', toolCallId: callId, title: toolTitle(tool, input), kind: toolKind(tool), status, locations: toolLocations(root, input), rawInput: input };
}

const textOf = (r: ToolResultPart | undefined) => (r?.content ?? []).map((c) => (c.type === 'text' ? c.text : `[${c.mediaType} image]`)).join('\n');

/** What a finished call shows: edits as a diff, everything else as its result text. */
export function toolResultContent(root: string, tool: string, input: Input, result: ToolResultPart | undefined): acp.ToolCallContent[] {
  const path = pathOf(root, input);
  if (!result?.isError && path) {
    if (tool === 'edit_file' && typeof input.new_string === 'string') return [{ type: 'diff', path, oldText: str(input.old_string) ?? null, newText: input.new_string }];
    if (tool === 'write_file' && typeof input.content === 'string') return [{ type: 'diff', path, oldText: null, newText: input.content }];
  }
  const out: acp.ToolCallContent[] = [];
  for (const c of result?.content ?? []) {
    if (c.type === 'text') out.push({ type: 'content', content: { type: 'text', text: c.text } });
    else out.push({ type: 'content', content: { type: 'image', mimeType: c.mediaType, data: c.data } });
  }
  return out;
}

export function toolDone(root: string, callId: string, tool: string, input: Input, result: ToolResultPart | undefined, failed: boolean): acp.SessionUpdate {
  return {
    sessionUpdate: 'tool_call_update', toolCallId: callId, status: failed || result?.isError ? 'failed' : 'completed',
    content: toolResultContent(root, tool, input, result), rawOutput: { text: textOf(result) },
  };
}

/** The most of a call's streamed output a tool_call_update repeats (ACP replaces the content each time). */
export const MAX_OUTPUT_CHARS = 64 * 1024;

/** Per session: the streamed output of running calls, for tool.output (bounded tail). */
export class OutputTails {
  private tails = new Map<string, string>();
  add(callId: string, text: string): string {
    const t = `${this.tails.get(callId) ?? ''}${text}`;
    const kept = t.length > MAX_OUTPUT_CHARS ? t.slice(t.length - MAX_OUTPUT_CHARS) : t;
    this.tails.set(callId, kept);
    return kept;
  }
  end(callId: string) { this.tails.delete(callId); }
}

/** agentd's plan (todo_write) as ACP's `plan` update: the whole list each time, priority `medium` when unset. */
export function planUpdate(entries: PlanEntry[]): acp.SessionUpdate {
  return { sessionUpdate: 'plan', entries: entries.map((e) => ({ content: e.content, status: e.status, priority: e.priority ?? 'medium' })) };
}

/** A live agentd event as the session/updates it becomes (none for most events). */
export function eventUpdates(root: string, e: TypedEvent, tails: OutputTails): acp.SessionUpdate[] {
  switch (e.type) {
    case 'message.delta':
      return e.data.delta.type === 'text_delta' && e.data.delta.text ? [{ sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: e.data.delta.text }, messageId: e.data.messageId }] : [];
    case 'tool.started':
      return [toolCall(root, e.data.callId, e.data.tool, e.data.input ?? {}, 'in_progress')];
    case 'tool.output':
      return [{ sessionUpdate: 'tool_call_update', toolCallId: e.data.callId, content: [{ type: 'content', content: { type: 'text', text: tails.add(e.data.callId, e.data.text ?? '') } }] }];
    case 'tool.completed':
    case 'tool.failed':
      tails.end(e.data.callId);
      return [toolDone(root, e.data.callId, e.data.tool, e.data.input ?? {}, e.data.result, e.type === 'tool.failed')];
    case 'plan.updated':
      return [planUpdate(e.data.entries)];
    case 'usage.updated':
      return [{
        sessionUpdate: 'usage_update', used: e.data.context.usedTokens, size: e.data.context.windowTokens ?? 0,
        ...(e.data.sessionCostUsd !== null ? { cost: { amount: e.data.sessionCostUsd, currency: 'USD' } } : {}),
      }];
    default:
      return [];
  }
}

/** A stored message as the updates `session/load` replays; tool results finish the calls of the message before. */
export function messageUpdates(root: string, m: Message, calls: Map<string, { tool: string; input: Input }>): acp.SessionUpdate[] {
  const out: acp.SessionUpdate[] = [];
  for (const p of m.content) {
    if (p.type === 'text') {
      if (p.text) out.push({ sessionUpdate: m.role === 'user' ? 'user_message_chunk' : 'agent_message_chunk', content: { type: 'text', text: p.text }, messageId: m.id });
    } else if (p.type === 'image') {
      out.push({ sessionUpdate: m.role === 'user' ? 'user_message_chunk' : 'agent_message_chunk', content: { type: 'image', mimeType: p.mediaType, data: p.data }, messageId: m.id });
    } else if (p.type === 'tool_use') {
      calls.set(p.id, { tool: p.name, input: p.input });
      out.push(toolCall(root, p.id, p.name, p.input, 'pending'));
    } else if (p.type === 'tool_result') {
      const c = calls.get(p.toolUseId);
      out.push(toolDone(root, p.toolUseId, c?.tool ?? '', c?.input ?? {}, p, false));
    }
  }
  return out;
}

/** Largest embedded resource text included in a prompt. */
const MAX_RESOURCE_CHARS = 1024 * 1024;

/**
 * ACP prompt blocks as the user message's content parts. A `resource_link` whose URI a connected
 * MCP server lists (`serverOf`) becomes an MCP resource part, which agentd reads from that server.
 * Throws a message for what cannot be sent.
 */
export function promptContent(blocks: acp.ContentBlock[], serverOf: (uri: string) => string | undefined = () => undefined): Array<TextPart | ImagePart | ResourceRefPart> {
  const parts: Array<TextPart | ImagePart | ResourceRefPart> = [];
  for (const b of blocks) {
    switch (b.type) {
      case 'text':
        if (b.text) parts.push({ type: 'text', text: b.text });
        break;
      case 'image':
        parts.push({ type: 'image', mediaType: b.mimeType, data: b.data });
        break;
      case 'resource_link': {
        const server = b.uri.length <= 8192 ? serverOf(b.uri) : undefined;
        if (server) {
          parts.push({ type: 'resource', server, uri: b.uri });
          break;
        }
        parts.push({ type: 'text', text: `[${b.title ?? b.name}](${b.uri})${b.description ? ` ${b.description}` : ''}` });
        break;
      }
      case 'resource': {
        const r = b.resource;
        if ('text' in r) {
          const text = r.text.length > MAX_RESOURCE_CHARS ? `${r.text.slice(0, MAX_RESOURCE_CHARS)}\n[truncated]` : r.text;
          parts.push({ type: 'text', text: `<context uri="${r.uri.replace(/"/g, '%22')}">\n${text}\n</context>` });
        } else if (r.mimeType?.startsWith('image/')) parts.push({ type: 'image', mediaType: r.mimeType, data: r.blob });
        else parts.push({ type: 'text', text: `[binary resource ${r.uri}${r.mimeType ? ` (${r.mimeType})` : ''} not included]` });
        break;
      }
      default:
        throw new Error(`unsupported prompt content: ${(b as { type: string }).type}`);
    }
  }
  return parts;
}

/** Most MCP servers one session/new or session/load may give (session/mcp's bound). */
const MAX_SESSION_MCP = 20;
const pairs = (xs: Array<{ name: string; value: string }> | undefined) => Object.fromEntries((xs ?? []).map((x) => [x.name, x.value]));

/**
 * ACP's `mcpServers` as session/mcp's `servers`, by name (a name is made of letters, digits,
 * `_`, `.` and `-`: anything else becomes `_`). Throws a message for what cannot be served.
 */
export function mcpServers(list: acp.McpServer[] | undefined): Record<string, McpServerConfig> {
  const out: Record<string, McpServerConfig> = {};
  if ((list?.length ?? 0) > MAX_SESSION_MCP) throw new Error(`at most ${MAX_SESSION_MCP} MCP servers per session`);
  for (const s of list ?? []) {
    const name = s.name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64) || 'mcp';
    if (Object.hasOwn(out, name)) throw new Error(`two MCP servers named ${name}`);
    if ('type' in s && (s.type === 'http' || s.type === 'sse')) out[name] = { type: s.type, url: s.url, headers: pairs(s.headers) };
    else {
      const st = s as acp.McpServerStdio;
      out[name] = { type: 'stdio', command: st.command, args: st.args ?? [], env: pairs(st.env) };
    }
  }
  return out;
}

/** agentd's turn.completed stop reason as ACP's. */
export function stopReason(reason: string | null | undefined): acp.StopReason {
  switch (reason) {
    case 'max_tokens': return 'max_tokens';
    case 'step_limit': return 'max_turn_requests';
    case 'refusal': return 'refusal';
    default: return 'end_turn';
  }
}

/** The four options of every session/request_permission, with what each answers. */
export const PERMISSION_OPTIONS: Array<acp.PermissionOption & { decision: PermissionDecision }> = [
  { optionId: 'allow_once', name: 'Allow once', kind: 'allow_once', decision: 'allow_once' },
  { optionId: 'allow_always', name: 'Always allow', kind: 'allow_always', decision: 'allow_always' },
  { optionId: 'reject_once', name: 'Reject', kind: 'reject_once', decision: 'deny' },
  { optionId: 'reject_always', name: 'Always reject', kind: 'reject_always', decision: 'deny_always' },
];

export function permissionDecision(outcome: acp.RequestPermissionOutcome | undefined): { decision: PermissionDecision; reason?: string } {
  if (outcome?.outcome !== 'selected') return { decision: 'deny', reason: 'cancelled' };
  const o = PERMISSION_OPTIONS.find((x) => x.optionId === outcome.optionId);
  return o ? { decision: o.decision, ...(o.decision.startsWith('deny') ? { reason: 'rejected in the editor' } : {}) } : { decision: 'deny', reason: `unknown option ${outcome.optionId}` };
}

// ---- modes: the approval policy's mode rules, recognised by their brace globs (user rules are plain names)

export const MODES: acp.SessionMode[] = [
  { id: 'default', name: 'Default', description: 'Ask before file edits and commands' },
  { id: 'acceptEdits', name: 'Accept edits', description: 'File edits are allowed; commands ask' },
  { id: 'readOnly', name: 'Read only', description: 'File edits and commands are denied' },
];
const MODE_RULES: Record<string, ApprovalRule[]> = {
  default: [],
  acceptEdits: [{ tool: '{write_file,edit_file}', action: 'allow' }],
  readOnly: [{ tool: '{write_file,edit_file,run_command}', action: 'deny' }],
};
const isModeRule = (r: ApprovalRule) => Object.values(MODE_RULES).some((rs) => rs.some((m) => m.tool === r.tool && m.action === r.action && r.match === undefined));

export function modeOf(policy: ApprovalPolicy | undefined): string {
  const rules = policy?.rules ?? [];
  for (const [id, mode] of Object.entries(MODE_RULES)) {
    if (mode.length && mode.every((m) => rules.some((r) => r.tool === m.tool && r.action === m.action && r.match === undefined))) return id;
  }
  return 'default';
}

export const isMode = (id: string) => Object.hasOwn(MODE_RULES, id);

/** The policy with `mode`'s rules in place of the previous mode's (the user's own rules kept, after them). */
export function withMode(policy: ApprovalPolicy | undefined, mode: string): ApprovalPolicy {
  const own = (policy?.rules ?? []).filter((r) => !isModeRule(r));
  return { ...policy, rules: [...MODE_RULES[mode]!, ...own] };
}

export function modeState(policy: ApprovalPolicy | undefined): acp.SessionModeState {
  return { currentModeId: modeOf(policy), availableModes: MODES };
}
