/**
 * The approval gate: the ToolHost the agent loop calls. It wraps whatever host
 * executes calls (the tool sources: the CompositeToolHost of built-in tools, MCP servers, ...),
 * asks the policy about each call and passes allowed calls on; a denial goes back to the model
 * as an isError tool result (with the user's reason), and the turn continues.
 */
import type { ApprovalRule, PermissionDecision, ToolResultPart } from '../../protocol/index.js';
import type { ConfigService } from '../config/service.js';
import type { EventLog } from '../events/log.js';
import { sessionView } from '../session/service.js';
import { errorResult, type ToolCall, type ToolContext, type ToolHost } from '../tools/host.js';
import type { SessionRecord, Store } from '../store/store.js';
import { decide, summarize } from './policy.js';
import { DEFAULT_APPROVAL_TIMEOUT_MS } from '../config/defaults.js';

/** The decisions execute() understands, every one of the protocol's (advertised in initialize's capabilities.permissionDecisions). */
export const PERMISSION_DECISIONS = ['allow_once', 'allow_always', 'deny', 'deny_always'] as const satisfies readonly PermissionDecision[];
type Missing = Exclude<PermissionDecision, (typeof PERMISSION_DECISIONS)[number]>;
const everyDecision: [Missing] extends [never] ? true : Missing = true;
void everyDecision;
import type { Answer, ApprovalService } from './service.js';

const denied = errorResult;

function denialText(tool: string, a: Answer, timeoutMs: number): string {
  if (!a.automatic) return `Permission denied: the user denied ${tool}${a.reason ? `: ${a.reason}` : '.'}`;
  if (a.reason === 'timeout') return `Permission denied: nobody approved ${tool} within ${timeoutMs} ms.`;
  if (a.reason === 'no client') return `Permission denied: no client is connected to approve ${tool}.`;
  return `Permission denied: ${a.reason ?? 'no approval'}.`;
}

export interface ApprovalGateDeps {
  store: Pick<Store, 'getSession' | 'updateSession'>;
  events: EventLog;
  config: Pick<ConfigService, 'get'>;
  approvals: Pick<ApprovalService, 'ask'>;
}

export class ApprovalGate implements ToolHost {
  constructor(private deps: ApprovalGateDeps, readonly sources: ToolHost) {}

  list(session?: SessionRecord) {
    return this.sources.list(session);
  }

  async execute(call: ToolCall, ctx: ToolContext): Promise<ToolResultPart> {
    const { store, config, approvals } = this.deps;
    // Fresh: an allow_always earlier in this turn must count.
    const session = (await store.getSession(ctx.session.id)) ?? ctx.session;
    const tool = this.sources.list(session).find((t) => t.name === call.name);
    if (!tool) return this.sources.execute(call, ctx); // "Unknown tool"
    const configPolicy = config.get().approvals;
    const d = decide(call, tool, session.policy, configPolicy);
    if (d.action === 'deny') {
      const why = d.rule ? `rule ${JSON.stringify(d.rule)} of the ${d.layer} policy` : `the ${d.layer} policy's default`;
      return denied(call, `Permission denied by ${why}.`);
    }
    if (d.action === 'ask') {
      const timeoutMs = session.policy?.timeoutMs ?? configPolicy?.timeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS;
      const answer = await approvals.ask({
        sessionId: session.id, turnId: ctx.turnId, callId: call.id, tool: call.name, input: call.input,
        summary: summarize(call.name, call.input), timeoutMs, signal: ctx.signal,
      });
      const match = d.rule?.match !== undefined ? { match: d.rule.match } : {};
      if (answer.decision === 'deny_always') await this.remember(session.id, { tool: call.name, ...match, action: 'deny' });
      if (answer.decision === 'deny' || answer.decision === 'deny_always') return denied(call, denialText(call.name, answer, timeoutMs));
      if (answer.decision === 'allow_always') await this.remember(session.id, { tool: call.name, ...match, action: 'allow' });
    }
    return this.sources.execute(call, ctx);
  }

  /** allow_always / deny_always: a session rule, persisted with the session, announced as session.updated. */
  private async remember(sessionId: string, rule: ApprovalRule) {
    const rec = await this.deps.store.getSession(sessionId);
    if (!rec) return;
    const rules = rec.policy?.rules ?? [];
    if (rules.some((r) => r.tool === rule.tool && r.match === rule.match && r.action === rule.action)) return;
    const updated: SessionRecord = { ...rec, policy: { ...rec.policy, rules: [...rules, rule] }, updatedAt: new Date().toISOString() };
    await this.deps.store.updateSession(updated);
    void this.deps.events.append(sessionId, 'session.updated', { session: await sessionView(this.deps, updated) });
  }
}
