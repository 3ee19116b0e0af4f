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
import picomatch from 'picomatch';
import type { ApprovalAction, ApprovalPolicy, ApprovalRule, Tool } from '../../protocol/index.js';

export const DEFAULT_APPROVAL_TIMEOUT_MS = 300_000;

export interface Decision {
  action: ApprovalAction;
  /** The rule that decided, if any (undefined: a default). */
  rule?: ApprovalRule;
  /** Which layer decided: `session`, `config` or `default`. */
  layer: 'session' | 'config' | 'default';
}

/** The argument `match` globs look at: `command`, else `path`, else the first string field. */
export function mainArgument(input: Record<string, unknown>): { key: string; value: string } | undefined {
  for (const key of ['command', 'path']) {
    const v = input[key];
    if (typeof v === 'string') return { key, value: v };
  }
  for (const [key, v] of Object.entries(input)) if (typeof v === 'string') return { key, value: v };
  return undefined;
}

const SHELL_CONTROL = /[;&|`\n\r<>]|\$\(/;
const SEGMENTS = /;|&&|\|\||\||&|\n|\r|`|\$\(|\)/;
const cache = new Map<string, (s: string) => boolean>();

function glob(pattern: string, command: boolean): (s: string) => boolean {
  const key = `${command ? 'c' : 'p'}:${pattern}`;
  let m = cache.get(key);
  if (!m) {
    // For commands a single `*` matches anything, `/` and spaces included (bash mode).
    m = picomatch(pattern, { dot: true, bash: command, nobrace: command, noextglob: command });
    if (cache.size > 1000) cache.clear();
    cache.set(key, m);
  }
  return m;
}

export function ruleMatches(rule: ApprovalRule, tool: string, input: Record<string, unknown>): boolean {
  if (!glob(rule.tool, false)(tool)) return false;
  if (rule.match === undefined) return true;
  const arg = mainArgument(input);
  if (!arg) return false;
  const isCommand = arg.key === 'command';
  const m = glob(rule.match, isCommand);
  if (!isCommand) return m(arg.value);
  if (rule.action === 'allow') return !SHELL_CONTROL.test(arg.value) && m(arg.value);
  // deny / ask rules also match any piece of a chained command (`git status; rm -rf ~`).
  return m(arg.value) || arg.value.split(SEGMENTS).some((seg) => m(seg.trim()));
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
