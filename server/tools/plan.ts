/**
 * `todo_write`: the model's task list. Each call replaces the whole list; it is stored on the
 * session (`plan`, returned by session/get) and announced as `plan.updated`. It touches no file,
 * so it is read-only for the approval policy (allowed by default).
 */
import type { PlanEntry, Tool, ToolResultPart } from '../../protocol/index.js';
import type { EventLog } from '../events/log.js';
import type { SessionRecord, Store } from '../store/store.js';
import { errorResult, type ToolCall, type ToolContext, type ToolSource } from './host.js';

/** Entries one list may hold. */
const MAX_ENTRIES = 100;
const MAX_CONTENT = 2000;
const STATUSES = ['pending', 'in_progress', 'completed'];
const PRIORITIES = ['high', 'medium', 'low'];

const TOOL: Tool = {
  name: 'todo_write',
  description: 'Keep your task list for this session: send the whole list each time (it replaces the previous one). Mark one task in_progress while you work on it and completed when done. The user sees the list.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['todos'],
    properties: {
      todos: {
        type: 'array', maxItems: MAX_ENTRIES, description: 'The whole task list, in order.',
        items: {
          type: 'object', additionalProperties: false, required: ['content', 'status'],
          properties: {
            content: { type: 'string', minLength: 1, maxLength: MAX_CONTENT, description: 'What to do.' },
            status: { type: 'string', enum: STATUSES },
            priority: { type: 'string', enum: PRIORITIES },
          },
        },
      },
    },
  },
  source: { type: 'builtin' },
  readOnly: true,
};

/** The entries, or why the input is not a task list. */
function parse(input: Record<string, unknown>): PlanEntry[] | string {
  const extra = Object.keys(input).filter((k) => k !== 'todos');
  if (extra.length) return `unknown field ${extra[0]}`;
  const todos = input.todos;
  if (!Array.isArray(todos)) return '`todos` must be an array';
  if (todos.length > MAX_ENTRIES) return `at most ${MAX_ENTRIES} todos`;
  const out: PlanEntry[] = [];
  for (const [i, t] of todos.entries()) {
    if (!t || typeof t !== 'object' || Array.isArray(t)) return `todos[${i}] must be an object`;
    const { content, status, priority, ...rest } = t as Record<string, unknown>;
    if (Object.keys(rest).length) return `todos[${i}] has an unknown field ${Object.keys(rest)[0]}`;
    if (typeof content !== 'string' || !content.trim() || content.length > MAX_CONTENT) return `todos[${i}].content must be a non-empty string of at most ${MAX_CONTENT} characters`;
    if (typeof status !== 'string' || !STATUSES.includes(status)) return `todos[${i}].status must be one of ${STATUSES.join(', ')}`;
    if (priority !== undefined && (typeof priority !== 'string' || !PRIORITIES.includes(priority))) return `todos[${i}].priority must be one of ${PRIORITIES.join(', ')}`;
    out.push({ content, status: status as PlanEntry['status'], ...(priority ? { priority: priority as PlanEntry['priority'] } : {}) });
  }
  return out;
}

export interface PlanToolDeps {
  store: Pick<Store, 'patchSession'>;
  events: Pick<EventLog, 'append'>;
}

export class PlanTools implements ToolSource {
  readonly id = 'plan';

  constructor(private deps: PlanToolDeps) {}

  has(name: string): boolean {
    return name === TOOL.name;
  }

  list(_session?: SessionRecord): Tool[] {
    return [TOOL];
  }

  async execute(call: ToolCall, ctx: ToolContext): Promise<ToolResultPart> {
    const entries = parse(call.input);
    if (typeof entries === 'string') return errorResult(call, `Invalid input for todo_write: ${entries}`);
    const stored = await this.deps.store.patchSession(ctx.session.id, (r) => ({ ...r, plan: entries }));
    if (!stored) return errorResult(call, 'todo_write failed: the session is gone');
    this.deps.events.append(ctx.session.id, 'plan.updated', { entries, turnId: ctx.turnId });
    const done = entries.filter((e) => e.status === 'completed').length;
    return { type: 'tool_result', toolUseId: call.id, content: [{ type: 'text', text: `Task list updated: ${entries.length} tasks, ${done} completed.` }] };
  }
}
