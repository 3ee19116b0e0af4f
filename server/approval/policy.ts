/**
 * Approval policy: decides `allow`, `ask` or `deny` for one tool call from the session's
 * policy layered over the config's.
 *
 *  1. A matching `deny` rule in either layer denies (a session cannot lift a configured deny).
 *  2. Otherwise the first matching rule wins, session rules before config rules.
 *  3. Otherwise `default` (the session's, then the config's), else the built-in default:
 *     read-only built-in tools allow; everything else (write_file, edit_file, run_command,
 *     every MCP tool) asks.
 *
 * A rule's `tool` is a name or glob (`mcp__*`); its optional `match` is a glob over the call's
 * main argument (see mainArgument). For `command`, `*` matches any text, and an `allow` rule
 * never matches a command containing shell control operators (`;`, `&&`, `|`, `` ` ``, `$(`,
 * newline, redirections), so `git status*` cannot be stretched into `git status; rm -rf ~`,
 * while `deny` and `ask` rules also match each piece of a chained command.
 */
import type { ApprovalAction, ApprovalPolicy, ApprovalRule, Tool } from '../../protocol/index.js';
import { mainArgument, ruleMatches } from '../../protocol/rules.js';

// The rule language lives in protocol/ so clients (`agentd run --allow`) match exactly as the server does.
export { mainArgument, ruleMatches };


export interface Decision {
  action: ApprovalAction;
  /** The rule that decided, if any (undefined: a default). */
  rule?: ApprovalRule;
  /** Which layer decided: `session`, `config` or `default`. */
  layer: 'session' | 'config' | 'default';
}

/** The built-in default for a tool no rule or configured default covers. */
export function builtinDefault(tool: Tool | undefined): ApprovalAction {
  if (!tool) return 'allow'; // unknown tools fail on their own with "Unknown tool"
  return tool.source.type === 'builtin' && tool.readOnly === true ? 'allow' : 'ask';
}

export function decide(call: { name: string; input: Record<string, unknown> }, tool: Tool | undefined,
  session: ApprovalPolicy | undefined, config: ApprovalPolicy | undefined): Decision {
  const layers: Array<['session' | 'config', ApprovalRule[]]> = [
    ['session', session?.rules ?? []],
    ['config', config?.rules ?? []],
  ];
  for (const [layer, rules] of layers) {
    const rule = rules.find((r) => r.action === 'deny' && ruleMatches(r, call.name, call.input));
    if (rule) return { action: 'deny', rule, layer };
  }
  for (const [layer, rules] of layers) {
    const rule = rules.find((r) => ruleMatches(r, call.name, call.input));
    if (rule) return { action: rule.action, rule, layer };
  }
  if (session?.default) return { action: session.default, layer: 'session' };
  if (config?.default) return { action: config.default, layer: 'config' };
  return { action: builtinDefault(tool), layer: 'default' };
}

/** One line for a human: `run_command: git status`, `mcp__fs__read_file {"path":"a"}`. */
export function summarize(name: string, input: Record<string, unknown>): string {
  const arg = mainArgument(input);
  const text = arg ? `${name}: ${arg.value}` : Object.keys(input).length ? `${name} ${JSON.stringify(input)}` : name;
  const line = text.replace(/\s+/g, ' ');
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}
